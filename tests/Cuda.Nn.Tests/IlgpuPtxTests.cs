// Every ILGPU kernel compiled to PTX by ILGPU's own PTX backend, which needs no GPU: the CPU accelerator runs
// kernels as .NET code, so this is the check that the GPU code generator accepts them (sm_80, PTX ISA 7.8).
using System.Reflection;
using Cuda.Nn.Kernels.Ilgpu;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Cuda.Nn.Tests;

public sealed class IlgpuPtxTests
{
    /// <summary>Implicitly grouped kernels (first parameter Index1D) and the explicitly grouped ones.</summary>
    private static IEnumerable<(MethodInfo Method, bool Grouped)> Kernels()
    {
        foreach (var t in new[] { typeof(ElementwiseKernels), typeof(StructuredKernels), typeof(IndexKernels), typeof(ConvKernels) })
            foreach (var m in t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                var ps = m.GetParameters();
                if (ps.Length > 0 && ps[0].ParameterType == typeof(Index1D)) yield return (m, false);
            }
        yield return (typeof(StructuredKernels).GetMethod(nameof(StructuredKernels.ReduceRowsGrouped))!, true);
        var gemm = typeof(StructuredKernels).GetMethod(nameof(StructuredKernels.Gemm))!;
        yield return (gemm.MakeGenericMethod(typeof(float), typeof(MulAddF32)), true);
        yield return (gemm.MakeGenericMethod(typeof(double), typeof(MulAddF64)), true);
    }

    [Fact]
    public void Every_kernel_compiles_to_ptx()
    {
        using var context = Context.Create(b => b.CPU().EnableAlgorithms());
        using var backend = new PTXBackend(context, CudaArchitecture.SM_80, CudaInstructionSet.ISA_78, null!); // no NVVM: ILGPU generates the PTX itself
        var failures = new List<string>();
        int compiled = 0;
        foreach (var (m, grouped) in Kernels())
        {
            try
            {
                var entry = grouped ? EntryPointDescription.FromExplicitlyGroupedKernel(m) : EntryPointDescription.FromImplicitlyGroupedKernel(m);
                var kernel = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
                Assert.Contains(".entry", kernel.PTXAssembly);
                // CUDANN_PTX_DIR=/some/dir keeps the generated PTX for inspection (or for ptxas on a GPU machine).
                if (Environment.GetEnvironmentVariable("CUDANN_PTX_DIR") is { Length: > 0 } dir)
                    File.WriteAllText(Path.Combine(dir, $"{m.DeclaringType!.Name}.{m.Name}{(m.IsGenericMethod ? "_" + m.GetGenericArguments()[0].Name : "")}.ptx"), kernel.PTXAssembly);
                compiled++;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                failures.Add($"{m.DeclaringType!.Name}.{m.Name}: {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} kernels did not compile to PTX:\n" + string.Join("\n", failures));
        Assert.Equal(38, compiled);
    }
}
