// Classifies images with a saved model (an .onnx file or a cudann checkpoint): the same program runs under the JIT
// (dotnet run) and as a NativeAOT binary, and scripts/package-check.sh compares their predictions.
// Usage: AotPredict MODEL IMAGE... ; prints "IMAGE: class probability, ..." per image, then timing lines.
using System.Diagnostics;
using System.Globalization;
using Cuda.Nn.Inference;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: AotPredict MODEL IMAGE...");
    return 2;
}
using var model = InferenceModel.Load(args[0]);
var inputs = args[1..].SelectMany(path => model.ReadInputs(path)).ToList();
var predictions = model.Predict(inputs, top: 3);
double coldMs = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
for (int i = 0; i < inputs.Count; i++)
    Console.WriteLine($"{Path.GetFileName(inputs[i].Name)}: {string.Join(", ", predictions[i].Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Class} {p.Probability:F6}")))}");

// Steady latency: one image at a time, after the first call compiled the plan.
var one = new[] { inputs[0] };
var times = new double[50];
for (int i = 0; i < times.Length; i++)
{
    long t0 = Stopwatch.GetTimestamp();
    model.Predict(one, top: 1);
    times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
}
Array.Sort(times);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"timing: process start to first prediction {coldMs:F0} ms; one image, median of {times.Length}: {times[times.Length / 2]:F3} ms"));
return 0;
