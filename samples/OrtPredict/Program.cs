// Runs an ONNX image classifier with ONNX Runtime on one constant image of the model's input size, and prints the
// same timing line as AotPredict: process start to first prediction, then the median of 50 single-image runs.
// Usage: OrtPredict MODEL.onnx THREADS
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: OrtPredict MODEL.onnx THREADS");
    return 2;
}
using var options = new SessionOptions { IntraOpNumThreads = int.Parse(args[1], CultureInfo.InvariantCulture), InterOpNumThreads = 1 };
using var session = new InferenceSession(args[0], options);
var input = session.InputMetadata.First();
int[] shape = [1, .. input.Value.Dimensions.Skip(1)];
var x = new DenseTensor<float>(Enumerable.Repeat(0.5f, shape.Aggregate(1, (a, d) => a * d)).ToArray(), shape);
var feed = new[] { NamedOnnxValue.CreateFromTensor(input.Key, x) };
using (var first = session.Run(feed)) { }
double coldMs = (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
var times = new double[50];
for (int i = 0; i < times.Length; i++)
{
    long t0 = Stopwatch.GetTimestamp();
    using var r = session.Run(feed);
    times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
}
Array.Sort(times);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"timing: process start to first prediction {coldMs:F0} ms; one image, median of {times.Length}: {times[times.Length / 2]:F3} ms"));
return 0;
