// The kernels keep no hidden switches (issue 25): behaviour is set through CpuKernelOptions, and every other piece
// of mutable static state in the kernels assembly is listed here with why it is not a switch.
using System.Reflection;
using System.Runtime.CompilerServices;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

[Collection(nameof(GlobalSettingsCollection))]
public class KernelSettingsTests
{
    /// <summary>Mutable statics that are state, not settings ("Type.member": why).</summary>
    private static readonly Dictionary<string, string> Allowed = new()
    {
        ["CpuKernelOptions._current"] = "the options object itself, replaced whole by CpuKernelOptions.Use",
        ["CpuWorkers._workers"] = "the worker threads",
        ["CpuMemoryPool._liveBytes"] = "a counter",
        ["CpuMemoryPool._pooledBytes"] = "a counter",
        ["CpuMemoryPool._peakLiveBytes"] = "a counter",
        ["IlgpuBackend._resolverSet"] = "a once-only flag (the native library resolver is installed once)",
    };

    /// <summary>Static fields that are neither readonly, const nor thread-local scratch, and static properties with a
    /// setter, in Cuda.Nn.Kernels (compiler-generated lambda caches aside).</summary>
    private static IEnumerable<string> MutableStatics()
    {
        const BindingFlags all = BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var type in typeof(CpuKernelOptions).Assembly.GetTypes())
        {
            if (type.IsDefined(typeof(CompilerGeneratedAttribute)) || type.Name.StartsWith('<')) continue;
            foreach (var f in type.GetFields(all))
            {
                if (f.IsInitOnly || f.IsLiteral || f.IsDefined(typeof(ThreadStaticAttribute))) continue;
                // An auto-property's backing field is reported as the property.
                var name = f.Name.StartsWith('<') ? f.Name[1..f.Name.IndexOf('>')] : f.Name;
                if (f.Name.StartsWith('<') && type.GetProperty(name, all) is { } p && p.SetMethod is null) continue;
                yield return $"{type.Name}.{name}";
            }
            foreach (var p in type.GetProperties(all))
                if (p.SetMethod is not null) yield return $"{type.Name}.{p.Name}";
        }
    }

    [Fact]
    public void NoMutableStaticSwitchRemainsInTheKernels()
    {
        var found = MutableStatics().Distinct().ToList();
        var unexplained = found.Where(n => !Allowed.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
        Assert.True(unexplained.Count == 0, "mutable static state in Cuda.Nn.Kernels: put settings in CpuKernelOptions, or list state here with why: " + string.Join(", ", unexplained));
        // The scan sees such state where there is some (the list is not stale either).
        var stale = Allowed.Keys.Where(n => !found.Contains(n)).ToList();
        Assert.True(stale.Count == 0, "listed but gone (remove from the list): " + string.Join(", ", stale));
    }

    [Fact]
    public void AnOptionsScopeRestoresThePreviousOptions()
    {
        var before = CpuKernelOptions.Current;
        using (CpuKernelOptions.Use(before with { DirectConvMinOutputWidth = 9 }))
            Assert.Equal(9, CpuKernelOptions.Current.DirectConvMinOutputWidth);
        Assert.Same(before, CpuKernelOptions.Current);
    }
}
