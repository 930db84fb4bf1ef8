// The API reference: every public type and member of an assembly with the summary of its XML comment, as one
// markdown page per assembly. Members are matched to comments by the documentation ID the C# compiler writes
// (M:Namespace.Type.Method(System.Int32,...)), built here from reflection.
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Cuda.Nn.ApiDocs;

internal static partial class ApiReference
{
    /// <summary>The markdown page for an assembly, given its XML documentation file.</summary>
    public static string Page(Assembly assembly, string xmlPath, out int documented, out int members)
    {
        var docs = XDocument.Load(xmlPath).Descendants("member")
            .ToDictionary(m => (string)m.Attribute("name")!, m => Summary(m.Element("summary")), StringComparer.Ordinal);
        documented = members = 0;
        var sb = new StringBuilder();
        string name = assembly.GetName().Name!;
        sb.Append($"# {name} API reference\n\n");
        sb.Append("Generated from the XML comments by `dotnet run --project tools/ApiDocs -c Release -- --write`; do not edit.\n");
        sb.Append("Public types and members; a member without a summary has no XML comment yet.\n");
        var types = assembly.GetExportedTypes().Where(t => !t.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)))
            .OrderBy(t => t.Namespace, StringComparer.Ordinal).ThenBy(t => t.FullName, StringComparer.Ordinal).ToList();
        foreach (var ns in types.GroupBy(t => t.Namespace ?? ""))
        {
            sb.Append($"\n## {ns.Key}\n");
            foreach (var type in ns)
            {
                sb.Append($"\n### {Kind(type)} {TypeName(type)}\n\n");
                members++;
                if (docs.GetValueOrDefault("T:" + IdName(type)) is { Length: > 0 } ts) { sb.Append(ts).Append("\n\n"); documented++; }
                var rows = new List<(string Signature, string? Summary)>();
                const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
                foreach (var m in type.GetMembers(flags).Where(Listed).OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(Signature, StringComparer.Ordinal))
                {
                    string? summary = docs.GetValueOrDefault(Id(m));
                    rows.Add((Signature(m), summary));
                    members++;
                    if (!string.IsNullOrEmpty(summary)) documented++;
                }
                if (rows.Count == 0) continue;
                sb.Append("| member | summary |\n|---|---|\n");
                foreach (var (sig, summary) in rows) sb.Append($"| `{sig.Replace("|", "\\|")}` | {(summary ?? "").Replace("|", "\\|")} |\n");
            }
        }
        return sb.ToString();
    }

    /// <summary>XML comments on members of the assembly's public types that match no member by the IDs built here (a
    /// wrong ID would silently drop a summary): documentation IDs with a public type's prefix and no member behind them.</summary>
    public static List<string> Unmatched(Assembly assembly, string xmlPath)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var byType = assembly.GetExportedTypes().ToDictionary(IdName, t => t.GetMembers(all).Select(Id).ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        var unmatched = new List<string>();
        foreach (var id in XDocument.Load(xmlPath).Descendants("member").Select(m => (string)m.Attribute("name")!))
        {
            if (id.Length < 3 || id[1] != ':' || id[0] == 'T') continue;
            string body = id[2..];
            int paren = body.IndexOf('(');
            string head = paren >= 0 ? body[..paren] : body;
            int dot = head.LastIndexOf('.');
            if (dot < 0 || !byType.TryGetValue(head[..dot], out var ids)) continue;
            if (!ids.Contains(id)) unmatched.Add(id);
        }
        return unmatched;
    }

    /// <summary>Members a reader calls: no accessors, event adders, enum internals or compiler-made record members.</summary>
    private static bool Listed(MemberInfo m) => m switch
    {
        MethodInfo mi => !mi.IsSpecialName && !mi.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute)) && mi.Name is not ("<Clone>$" or "Deconstruct" or "PrintMembers"),
        ConstructorInfo => !m.DeclaringType!.IsEnum,
        PropertyInfo p => p.Name != "EqualityContract",
        FieldInfo f => !f.IsSpecialName,
        EventInfo => true,
        _ => false, // nested types are listed as types
    };

    private static string Kind(Type t) => t.IsEnum ? "enum" : t.IsInterface ? "interface" : t.IsValueType ? "struct"
        : typeof(Delegate).IsAssignableFrom(t) ? "delegate" : t.IsAbstract && t.IsSealed ? "static class" : "class";

    /// <summary>The first paragraph of a summary as one markdown line (crefs become code).</summary>
    private static string Summary(XElement? e)
    {
        if (e is null) return "";
        var text = new StringBuilder();
        foreach (var node in e.Nodes())
            text.Append(node switch
            {
                XText t => t.Value,
                XElement { Name.LocalName: "see" or "seealso" } see => "`" + ShortCref((string?)see.Attribute("cref") ?? (string?)see.Attribute("langword") ?? see.Value) + "`",
                XElement { Name.LocalName: "paramref" or "typeparamref" } p => "`" + (string?)p.Attribute("name") + "`",
                XElement { Name.LocalName: "c" } c => "`" + c.Value + "`",
                XElement other => other.Value,
                _ => "",
            });
        return Whitespace().Replace(text.ToString(), " ").Trim();
    }

    private static string ShortCref(string cref)
    {
        int colon = cref.IndexOf(':');
        string s = colon >= 0 ? cref[(colon + 1)..] : cref;
        int paren = s.IndexOf('(');
        if (paren >= 0) s = s[..paren];
        return s[(s.LastIndexOf('.', s.Length - 1) + 1)..];
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    // ---- C#-like display names ----

    public static string TypeName(Type t)
    {
        if (t.IsByRef) return TypeName(t.GetElementType()!);
        if (t.IsArray) return TypeName(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        if (t.IsPointer) return TypeName(t.GetElementType()!) + "*";
        if (Nullable.GetUnderlyingType(t) is { } u) return TypeName(u) + "?";
        string name = Alias(t) ?? (t.IsNested && !t.IsGenericParameter ? TypeName(t.DeclaringType!) + "." : "") + StripArity(t.Name);
        if (!t.IsGenericType) return name;
        var args = t.GetGenericArguments();
        if (t.IsNested) args = args.Skip(t.DeclaringType!.GetGenericArguments().Length).ToArray();
        return args.Length == 0 ? name : $"{name}<{string.Join(", ", args.Select(TypeName))}>";
    }

    private static string StripArity(string name) => name.IndexOf('`') is var i and >= 0 ? name[..i] : name;

    private static string? Alias(Type t) => t.IsGenericParameter ? null : t.FullName switch
    {
        "System.Int32" => "int", "System.Int64" => "long", "System.Single" => "float", "System.Double" => "double",
        "System.Boolean" => "bool", "System.String" => "string", "System.Byte" => "byte", "System.Void" => "void",
        "System.Object" => "object", "System.UInt64" => "ulong", "System.UInt32" => "uint", "System.Int16" => "short",
        "System.UInt16" => "ushort", "System.SByte" => "sbyte", "System.Char" => "char", "System.Decimal" => "decimal",
        "System.IntPtr" => "nint", "System.UIntPtr" => "nuint",
        _ => null,
    };

    private static string Parameters(ParameterInfo[] ps) => string.Join(", ", ps.Select(p =>
        (p.ParameterType.IsByRef ? (p.IsOut ? "out " : p.IsIn ? "in " : "ref ") : "") + TypeName(p.ParameterType) + " " + p.Name
        + (p.HasDefaultValue ? " = " + Literal(p.DefaultValue) : "")));

    private static string Literal(object? v) => v switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    private static string Signature(MemberInfo m) => m switch
    {
        ConstructorInfo c => $"{StripArity(c.DeclaringType!.Name)}({Parameters(c.GetParameters())})",
        MethodInfo mi => $"{(mi.IsStatic ? "static " : "")}{TypeName(mi.ReturnType)} {mi.Name}{(mi.IsGenericMethod ? "<" + string.Join(", ", mi.GetGenericArguments().Select(a => a.Name)) + ">" : "")}({Parameters(mi.GetParameters())})",
        PropertyInfo p => $"{(p.GetMethod?.IsStatic == true ? "static " : "")}{TypeName(p.PropertyType)} {p.Name}"
            + (p.GetIndexParameters() is { Length: > 0 } ix ? "[" + Parameters(ix) + "]" : "")
            + " { " + (p.GetMethod?.IsPublic == true ? "get; " : "") + (p.SetMethod?.IsPublic == true ? (IsInit(p.SetMethod) ? "init; " : "set; ") : "") + "}",
        FieldInfo f => f.DeclaringType!.IsEnum ? $"{f.Name} = {Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture)}"
            : $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{(f.IsInitOnly ? "readonly " : "")}{TypeName(f.FieldType)} {f.Name}",
        EventInfo e => $"event {TypeName(e.EventHandlerType!)} {e.Name}",
        _ => m.Name,
    };

    private static bool IsInit(MethodInfo setter) =>
        setter.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.FullName == "System.Runtime.CompilerServices.IsExternalInit");

    // ---- documentation IDs (ECMA-334 annex D, as csc writes them) ----

    private static string IdName(Type t) => (t.IsNested ? IdName(t.DeclaringType!) + "." + t.Name : t.FullName ?? t.Name).Replace('+', '.');

    public static string Id(MemberInfo m) => m switch
    {
        Type t => "T:" + IdName(t),
        ConstructorInfo c => $"M:{IdName(c.DeclaringType!)}.{(c.IsStatic ? "#cctor" : "#ctor")}{IdParameters(c.GetParameters(), c.DeclaringType!, null)}",
        MethodInfo mi => $"M:{IdName(mi.DeclaringType!)}.{mi.Name.Replace('.', '#')}{(mi.IsGenericMethod ? "``" + mi.GetGenericArguments().Length : "")}{IdParameters(mi.GetParameters(), mi.DeclaringType!, mi)}"
            + (mi.Name is "op_Implicit" or "op_Explicit" ? "~" + IdType(mi.ReturnType, mi.DeclaringType!, mi) : ""),
        PropertyInfo p => $"P:{IdName(p.DeclaringType!)}.{p.Name}{IdParameters(p.GetIndexParameters(), p.DeclaringType!, null)}",
        FieldInfo f => $"F:{IdName(f.DeclaringType!)}.{f.Name}",
        EventInfo e => $"E:{IdName(e.DeclaringType!)}.{e.Name}",
        _ => "",
    };

    private static string IdParameters(ParameterInfo[] ps, Type declaring, MethodInfo? method) =>
        ps.Length == 0 ? "" : "(" + string.Join(",", ps.Select(p => IdType(p.ParameterType, declaring, method))) + ")";

    private static string IdType(Type t, Type declaring, MethodInfo? method)
    {
        if (t.IsByRef) return IdType(t.GetElementType()!, declaring, method) + "@";
        if (t.IsPointer) return IdType(t.GetElementType()!, declaring, method) + "*";
        if (t.IsArray)
            return IdType(t.GetElementType()!, declaring, method) + (t.GetArrayRank() == 1 ? "[]" : "[" + string.Join(",", Enumerable.Repeat("0:", t.GetArrayRank())) + "]");
        if (t.IsGenericParameter) return t.DeclaringMethod is not null ? "``" + t.GenericParameterPosition : "`" + t.GenericParameterPosition;
        if (t.IsGenericType)
        {
            var def = t.GetGenericTypeDefinition();
            string name = IdName(def);
            name = Regex.Replace(name, @"`\d+", "");
            return name + "{" + string.Join(",", t.GetGenericArguments().Select(a => IdType(a, declaring, method))) + "}";
        }
        return IdName(t);
    }
}
