// Every type the library reads or writes as JSON, for System.Text.Json's source generator: serialisation then needs
// no reflection, so trimmed and NativeAOT apps keep what it touches (docs/packaging.md). The options objects
// (TrainConfig.Json and the others) set TypeInfoResolver to this context; JsonText goes through their type info.
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Cuda.Nn.Compression;
using Cuda.Nn.Data;
using Cuda.Nn.Diagnostics;
using Cuda.Nn.Metrics;
using Cuda.Nn.Training;

namespace Cuda.Nn.IO;

[JsonSerializable(typeof(TrainConfig))]
[JsonSerializable(typeof(TrainReport))]
[JsonSerializable(typeof(EpochMetrics))]
[JsonSerializable(typeof(List<EpochMetrics>))]
[JsonSerializable(typeof(EpochProgress))]
[JsonSerializable(typeof(KFoldConfig))]
[JsonSerializable(typeof(KFoldReport))]
[JsonSerializable(typeof(PruneReport))]
[JsonSerializable(typeof(QuantizeReport))]
[JsonSerializable(typeof(GpuCheckReport))]
[JsonSerializable(typeof(EvaluationResult))]
[JsonSerializable(typeof(AuditReport))]
[JsonSerializable(typeof(SplitRecord))]
[JsonSerializable(typeof(Preprocessing))]
[JsonSerializable(typeof(TransformSpec))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(Dictionary<string, int>))]
// TransformSpec.Of's argument values, serialised by their runtime type.
[JsonSerializable(typeof(object))]
[JsonSerializable(typeof(object[]))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(float))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string))]
internal sealed partial class CudannJsonContext : JsonSerializerContext;

/// <summary>JSON through the source-generated contracts: the same calls as JsonSerializer's, without reflection.</summary>
internal static class JsonText
{
    /// <summary>Plain options (PascalCase names, compact) over the generated contracts.</summary>
    public static readonly JsonSerializerOptions Plain = new() { TypeInfoResolver = CudannJsonContext.Default };

    private static JsonTypeInfo<T> Info<T>(JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    public static string Serialize<T>(T value, JsonSerializerOptions options) => JsonSerializer.Serialize(value, Info<T>(options));

    public static T? Deserialize<T>(string json, JsonSerializerOptions options) => JsonSerializer.Deserialize(json, Info<T>(options));

    /// <summary>A value of any registered runtime type as a JsonElement.</summary>
    public static JsonElement ToElement(object? value, JsonSerializerOptions options) =>
        value is null ? JsonSerializer.SerializeToElement<object?>(null, Info<object?>(options)) : JsonSerializer.SerializeToElement(value, options.GetTypeInfo(value.GetType()));
}
