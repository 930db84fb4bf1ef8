// Label lists: CSV ("path,label" or "path,label1;label2" for multi-label, optional header, RFC 4180 quoting)
// and JSON ([{"path": ..., "label": ...} or {"path": ..., "labels": [...]}]). Errors name the file and line.
using System.Text;
using System.Text.Json;

namespace Cuda.Nn.Data;

/// <summary>One listed sample: a path (as written, or resolved against the list's folder) and its labels.</summary>
public sealed record LabeledSample(string Path, string[] Labels, int Line);

public sealed class LabelList
{
    public required LabeledSample[] Samples { get; init; }
    /// <summary>Every label that occurs, in ordinal order: the class index of a label is its position here.</summary>
    public required string[] ClassNames { get; init; }
    public bool MultiLabel => Samples.Any(s => s.Labels.Length > 1);
    public int Count => Samples.Length;

    /// <summary>Refuses lists larger than this (a wrong or hostile file).</summary>
    public const long MaxFileBytes = 1L << 30;

    public int ClassIndex(string label)
    {
        int i = Array.BinarySearch(ClassNames, label, StringComparer.Ordinal);
        if (i < 0) throw new KeyNotFoundException($"label '{label}' is not in the list");
        return i;
    }

    /// <summary>The single label of each sample as a class index; a multi-label sample is an error naming its line.</summary>
    public long[] SingleLabels(string source = "label list")
    {
        var r = new long[Samples.Length];
        for (int i = 0; i < r.Length; i++)
        {
            if (Samples[i].Labels.Length != 1) throw new InvalidDataException($"{source}:{Samples[i].Line}: {Samples[i].Labels.Length} labels where one is expected");
            r[i] = ClassIndex(Samples[i].Labels[0]);
        }
        return r;
    }

    /// <summary>Reads a .csv or .json list (by extension; anything else is read as CSV). Relative paths are resolved against the list's folder.</summary>
    public static LabelList Read(string path)
    {
        var bytes = SafeFile.ReadAllBytes(path, MaxFileBytes, "label list");
        var list = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? ParseJson(bytes, path) : ParseCsv(DecodeText(bytes, path), path);
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".";
        return new LabelList
        {
            Samples = [.. list.Samples.Select(s => s with { Path = System.IO.Path.IsPathRooted(s.Path) ? s.Path : System.IO.Path.Combine(dir, s.Path) })],
            ClassNames = list.ClassNames,
        };
    }

    internal static string DecodeText(byte[] bytes, string source)
    {
        try { return new UTF8Encoding(false, true).GetString(bytes).TrimStart('\uFEFF'); }
        catch (DecoderFallbackException e) { throw new InvalidDataException($"{source}: not UTF-8 text (bad byte at offset {e.Index})", e); }
    }

    /// <summary>Parses CSV text. A first line "path,label" or "path,labels" (any case) is a header.</summary>
    public static LabelList ParseCsv(string text, string source)
    {
        var samples = new List<LabeledSample>();
        int line = 0;
        foreach (var (fields, lineNo) in Csv.Rows(text, source))
        {
            line = lineNo;
            if (samples.Count == 0 && fields.Length == 2 && fields[0].Trim().Equals("path", StringComparison.OrdinalIgnoreCase)
                && fields[1].Trim().ToLowerInvariant() is "label" or "labels")
                continue;
            if (fields.Length == 1 && fields[0].Trim().Length == 0) continue; // blank line
            if (fields.Length != 2) throw new InvalidDataException($"{source}:{lineNo}: {fields.Length} fields, expected 2 (path,label or path,label1;label2)");
            samples.Add(Make(fields[0], fields[1].Split(';'), source, lineNo));
        }
        return Finish(samples, source);
    }

    /// <summary>Parses a JSON array of {"path": "...", "label": "..."} or {"path": "...", "labels": ["...", ...]} objects.</summary>
    public static LabelList ParseJson(byte[] utf8, string source)
    {
        var samples = new List<LabeledSample>();
        var lineStarts = new List<int> { 0 };
        for (int i = 0; i < utf8.Length; i++) if (utf8[i] == (byte)'\n') lineStarts.Add(i + 1);
        int LineOf(long offset)
        {
            int k = lineStarts.BinarySearch((int)offset);
            return (k >= 0 ? k : ~k - 1) + 1;
        }
        var span = utf8.AsSpan();
        if (span.StartsWith("\uFEFF"u8)) span = span[3..];
        var reader = new Utf8JsonReader(span, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 16 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                throw new InvalidDataException($"{source}:{LineOf(reader.TokenStartIndex)}: expected a JSON array of {{\"path\": ..., \"label\": ...}} objects");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                int line = LineOf(reader.TokenStartIndex);
                if (reader.TokenType != JsonTokenType.StartObject) throw new InvalidDataException($"{source}:{line}: expected an object, got {reader.TokenType}");
                using var doc = JsonDocument.ParseValue(ref reader);
                var o = doc.RootElement;
                if (!o.TryGetProperty("path", out var p) || p.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{source}:{line}: the object has no string \"path\"");
                string[] labels;
                if (o.TryGetProperty("labels", out var ls))
                {
                    if (ls.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{source}:{line}: \"labels\" is not an array");
                    labels = [.. ls.EnumerateArray().Select(l => LabelText(l, source, line))];
                }
                else if (o.TryGetProperty("label", out var l)) labels = [LabelText(l, source, line)];
                else throw new InvalidDataException($"{source}:{line}: the object has neither \"label\" nor \"labels\"");
                samples.Add(Make(p.GetString()!, labels, source, line));
            }
            if (reader.TokenType != JsonTokenType.EndArray) throw new InvalidDataException($"{source}: the JSON array is not closed (truncated?)");
            if (reader.Read()) throw new InvalidDataException($"{source}:{LineOf(reader.TokenStartIndex)}: unexpected data after the array");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}:{(e.LineNumber ?? 0) + 1}: invalid JSON ({e.Message})", e);
        }
        return Finish(samples, source);
    }

    private static string LabelText(JsonElement e, string source, int line) => e.ValueKind switch
    {
        JsonValueKind.String => e.GetString()!,
        JsonValueKind.Number => e.GetRawText(),
        _ => throw new InvalidDataException($"{source}:{line}: a label must be a string or a number, got {e.ValueKind}"),
    };

    private static LabeledSample Make(string path, string[] labels, string source, int line)
    {
        path = path.Trim();
        if (path.Length == 0) throw new InvalidDataException($"{source}:{line}: empty path");
        if (path.Contains('\0')) throw new InvalidDataException($"{source}:{line}: the path contains a NUL character");
        var ls = labels.Select(l => l.Trim()).ToArray();
        if (ls.Length == 0 || ls.Any(l => l.Length == 0)) throw new InvalidDataException($"{source}:{line}: empty label for {path}");
        if (ls.Distinct(StringComparer.Ordinal).Count() != ls.Length) throw new InvalidDataException($"{source}:{line}: a label is repeated for {path}");
        return new LabeledSample(path, ls, line);
    }

    private static LabelList Finish(List<LabeledSample> samples, string source)
    {
        if (samples.Count == 0) throw new InvalidDataException($"{source}: no samples listed");
        var names = samples.SelectMany(s => s.Labels).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        return new LabelList { Samples = [.. samples], ClassNames = names };
    }
}

/// <summary>A small RFC 4180 reader: comma-separated fields, double quotes with "" escapes, LF or CRLF lines.</summary>
public static class Csv
{
    /// <summary>Yields each record's fields with the line it starts on (1-based).</summary>
    public static IEnumerable<(string[] Fields, int Line)> Rows(string text, string source)
    {
        int i = 0, line = 1;
        var fields = new List<string>();
        var sb = new StringBuilder();
        while (i < text.Length)
        {
            int start = line;
            fields.Clear();
            while (true)
            {
                sb.Clear();
                if (i < text.Length && text[i] == '"')
                {
                    int quoteLine = line;
                    i++;
                    while (true)
                    {
                        if (i >= text.Length) throw new InvalidDataException($"{source}:{quoteLine}: unterminated quoted field");
                        char c = text[i++];
                        if (c == '"')
                        {
                            if (i < text.Length && text[i] == '"') { sb.Append('"'); i++; continue; }
                            break;
                        }
                        if (c == '\n') line++;
                        sb.Append(c);
                    }
                    if (i < text.Length && text[i] is not (',' or '\n' or '\r'))
                        throw new InvalidDataException($"{source}:{line}: unexpected character '{text[i]}' after a closing quote");
                }
                else
                {
                    while (i < text.Length && text[i] is not (',' or '\n' or '\r'))
                    {
                        if (text[i] == '"') throw new InvalidDataException($"{source}:{line}: a quote inside an unquoted field (quote the whole field and double the quote)");
                        sb.Append(text[i++]);
                    }
                }
                fields.Add(sb.ToString());
                if (i < text.Length && text[i] == ',') { i++; continue; }
                break;
            }
            if (i < text.Length && text[i] == '\r') i++;
            if (i < text.Length && text[i] == '\n') i++;
            else if (i < text.Length) throw new InvalidDataException($"{source}:{line}: a carriage return not followed by a line feed");
            line++;
            yield return ([.. fields], start);
        }
    }
}
