// The model fixtures (resnet18_io, mobilenet_v3_small_io): the weights file an io file names in its 'weights'
// metadata (checked by its SHA-256, seed, architecture, parameter and entry counts), then every case by its
// 'mode', each starting from the stored weights: eval logits; one train batch's logits, loss, the gradients
// listed in 'grads' and the running statistics of the BN named in 'running_stats_after'.
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.IO;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Tests.Support;

public static class OracleModelCases
{
    private static readonly Regex WeightsNote = new(@"^(?<file>[\w.-]+\.safetensors) in this folder \(sha256 (?<sha>[0-9a-f]{64})\)$", RegexOptions.CultureInvariant);
    private static readonly Regex ShapeNote = new(@"\[(?<dims>\d+(,\s*\d+)*)\]", RegexOptions.CultureInvariant);

    /// <param name="ioFile">the io fixture, e.g. resnet18_io.safetensors</param>
    /// <param name="architecture">the torchvision model the caller builds (the weights' 'architecture' must name it)</param>
    /// <param name="build">the model for num_classes</param>
    /// <param name="assertLogits">the README's logits tolerance for this model (actual, expected, message)</param>
    public static void Run(string ioFile, string architecture, Func<int, Module> build, Action<Tensor, Tensor, string> assertLogits)
    {
        using var io = Oracle.Open(ioFile);
        string note = io.Metadata["weights"];
        var w = WeightsNote.Match(note);
        Assert.True(w.Success, $"{ioFile}: 'weights' = \"{note}\" is not \"FILE.safetensors in this folder (sha256 HEX)\"");
        string weightsName = w.Groups["file"].Value, weightsPath = Path.Combine(Oracle.Directory!, weightsName);
        using (var stream = File.OpenRead(weightsPath))
            Assert.True(Convert.ToHexStringLower(SHA256.HashData(stream)) == w.Groups["sha"].Value, $"{ioFile}: {weightsName} does not have the SHA-256 its 'weights' names");
        using var weightsFile = Oracle.Open(weightsName);
        var (arch, numClasses) = Oracle.Architecture(weightsFile);
        Assert.True(arch == architecture, $"{weightsName}: 'architecture' names {arch}, this test builds {architecture}");
        Assert.Equal(Oracle.Architecture(io), (arch, numClasses));
        Assert.True(io.Metadata["weights_seed"] == weightsFile.Metadata["seed"], $"{ioFile}: 'weights_seed' {io.Metadata["weights_seed"]} but {weightsName} 'seed' {weightsFile.Metadata["seed"]}");
        Assert.True(io.Metadata["total_params"] == weightsFile.Metadata["total_params"], $"{ioFile}: 'total_params' differs from {weightsName}'s");
        using var model = build(numClasses);
        Assert.Equal(long.Parse(weightsFile.Metadata["total_params"], System.Globalization.CultureInfo.InvariantCulture), model.ParameterCount());
        var state = TensorFile.Load(weightsPath);
        try
        {
            Assert.Equal(int.Parse(weightsFile.Metadata["state_dict_entries"], System.Globalization.CultureInfo.InvariantCulture), state.Count);
            foreach (var c in Oracle.Cases(io)) RunCase(io, c, arch, model, state, assertLogits);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        OracleFileChecks.MetadataListsEveryCase(ioFile);
    }

    private static void RunCase(SafeTensorsFile io, string c, string arch, Module model, Dictionary<string, Tensor> state, Action<Tensor, Tensor, string> assertLogits)
    {
        var p = Oracle.Case(io, c);
        string what = $"{arch} {p.What}";
        using var scope = new DisposeScope();
        // README: each pass starts from the stored weights (the train pass not from the state after the eval one).
        var load = model.LoadStateDict(state);
        Assert.True(load.IsClean, load.ToString());
        model.ZeroGrad();
        var x = Oracle.Load(io, $"{c}.x");
        if (p.TryGet("input", out var input))
        {
            var m = ShapeNote.Match(input.GetString() ?? "");
            Assert.True(m.Success, $"{what}: 'input' = {input.GetRawText()} names no shape");
            var dims = m.Groups["dims"].Value.Split(',').Select(d => int.Parse(d.Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.True(dims.SequenceEqual(x.Shape), $"{what}: 'input' names [{string.Join(",", dims)}], x is [{string.Join(",", x.Shape)}]");
        }
        var roles = new List<string> { "x", "logits" };
        switch (p.String("mode"))
        {
            case "eval":
                using (AutogradMode.NoGrad())
                {
                    model.Eval();
                    assertLogits(model.Forward(x), Oracle.Load(io, $"{c}.logits"), $"{what} eval logits");
                }
                break;
            case "train":
                {
                    p.Expect("loss", "cross_entropy mean", "the test computes F.CrossEntropy with the mean reduction");
                    // Batch statistics in BN; the fixture disables dropout (the Dropout modules in eval mode).
                    string dropout = p.String("dropout");
                    Assert.True(dropout.StartsWith("disabled", StringComparison.Ordinal), $"{what}: 'dropout' = \"{dropout}\": only a pass with dropout disabled is reproducible");
                    model.Train();
                    foreach (var (_, m) in model.NamedModules()) if (m is Dropout) m.Eval();
                    var logits = model.Forward(x);
                    assertLogits(logits, Oracle.Load(io, $"{c}.logits"), $"{what} train logits");
                    var loss = F.CrossEntropy(logits, Oracle.Load(io, $"{c}.target"));
                    Oracle.AssertClose(loss, Oracle.Load(io, $"{c}.loss"), 1e-3, 1e-3, $"{what} train loss");
                    loss.Backward();
                    var sd = model.StateDict();
                    foreach (var name in p.Strings("grads"))
                    {
                        Assert.True(sd.ContainsKey(name), $"{what}: 'grads' names {name}, which the model does not have");
                        Oracle.AssertRelNorm(sd[name].Grad!, Oracle.Load(io, $"{c}.grad.{name}"), 1e-3, $"{what} grad {name}");
                        roles.Add($"grad.{name}");
                    }
                    string bn = p.String("running_stats_after");
                    foreach (var stat in new[] { "running_mean", "running_var" })
                    {
                        Oracle.AssertRelNorm(sd[$"{bn}.{stat}"], Oracle.Load(io, $"{c}.after.{bn}.{stat}"), 1e-3, $"{what} {bn} {stat}");
                        roles.Add($"after.{bn}.{stat}");
                    }
                    roles.AddRange(["target", "loss"]);
                    break;
                }
            case var mode:
                Assert.Fail($"{what}: no mapping for mode '{mode}'");
                break;
        }
        // 'batchnorm' restates what train mode does (batch statistics, running stats updated once), which the
        // running-stat check above verifies.
        p.AssertAllRead("seed", "batchnorm");
        Oracle.AssertRoles(io, c, roles);
    }
}
