using Cuda.Nn.Modules;

namespace Cuda.Nn.Tests;

public class ModuleTests
{
    private static Sequential Mlp() => new(new Linear(4, 8, generator: new Generator(3)), Activation.ReLU(), new LayerNorm(8), new Linear(8, 2, generator: new Generator(4)));

    [Fact]
    public void StateDictUsesPyTorchNamesAndCountsParameters()
    {
        using var m = Mlp();
        var names = m.StateDict().Keys.ToArray();
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"], names);
        Assert.Equal(4 * 8 + 8 + 8 + 8 + 8 * 2 + 2, m.ParameterCount());
    }

    [Fact]
    public void LoadStateDictCopiesValuesAndReportsEveryProblemByName()
    {
        using var a = Mlp();
        using var b = new Sequential(new Linear(4, 8), Activation.ReLU(), new LayerNorm(8), new Linear(8, 2));
        b.LoadStateDict(a.StateDict());
        Assert.Equal(a.StateDict()["3.weight"].ToArray<float>(), b.StateDict()["3.weight"].ToArray<float>());

        using var wrong = Tensor.Zeros([3, 3]);
        using var extra = Tensor.Zeros([1]);
        var state = new Dictionary<string, Tensor>(a.StateDict());
        state.Remove("0.bias");
        state["3.weight"] = wrong;
        state["head.weight"] = extra;
        var e = Assert.Throws<InvalidDataException>(() => b.LoadStateDict(state));
        Assert.Contains("0.bias", e.Message);
        Assert.Contains("head.weight", e.Message);
        Assert.Contains("3.weight: checkpoint [3, 3] vs model [2, 8]", e.Message);
        var lenient = b.LoadStateDict(state, strict: false);
        Assert.Equal(["0.bias"], lenient.MissingKeys);
    }

    [Fact]
    public void FreezingStopsGradients()
    {
        using var m = Mlp();
        Assert.Equal(2, m.FreezeMatching(@"^0\."));
        Assert.Equal(m.ParameterCount() - 40, m.ParameterCount(trainableOnly: true));
        using var scope = new DisposeScope();
        var x = Tensor.Randn([5, 4], new Generator(1));
        m.Forward(x).Sum().Backward();
        var sd = m.StateDict();
        Assert.Null(sd["0.weight"].Grad);
        Assert.NotNull(sd["3.weight"].Grad);
    }

    [Fact]
    public void ToConvertsParametersAndForwardStillWorks()
    {
        using var m = Mlp();
        m.To(Kernels.DType.F64);
        Assert.All(m.Parameters(), p => Assert.Equal(Kernels.DType.F64, p.DType));
        Assert.All(m.Parameters(), p => Assert.True(p.RequiresGrad));
        using var scope = new DisposeScope();
        var y = m.Forward(Tensor.Randn([2, 4], dtype: Kernels.DType.F64));
        Assert.Equal([2, 2], y.Shape);
    }
}
