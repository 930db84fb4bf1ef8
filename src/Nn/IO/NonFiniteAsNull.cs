// NaN and infinities in the JSON the project writes (a diverged loss, a ROC-AUC of a class with no positives, a kappa
// of one category) are written as null, so every file stays plain JSON that any reader parses; reading null gives
// NaN back. Files from before this wrote "NaN", "Infinity" and "-Infinity" as strings; those still read.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.IO;

public sealed class NonFiniteAsNullDouble : JsonConverter<double>
{
    public override bool HandleNull => true;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => double.NaN,
        JsonTokenType.Number => reader.GetDouble(),
        JsonTokenType.String => NamedLiteral(reader.GetString()!),
        _ => throw new JsonException($"expected a number or null, got {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }

    internal static double NamedLiteral(string s) => s switch
    {
        "NaN" => double.NaN,
        "Infinity" => double.PositiveInfinity,
        "-Infinity" => double.NegativeInfinity,
        _ => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new JsonException($"expected a number, got \"{s}\""),
    };
}

public sealed class NonFiniteAsNullSingle : JsonConverter<float>
{
    public override bool HandleNull => true;

    public override float Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => float.NaN,
        JsonTokenType.Number => reader.GetSingle(),
        JsonTokenType.String => (float)NonFiniteAsNullDouble.NamedLiteral(reader.GetString()!),
        _ => throw new JsonException($"expected a number or null, got {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, float value, JsonSerializerOptions options)
    {
        if (float.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }
}
