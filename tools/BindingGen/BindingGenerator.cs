// Header + spec -> C# text. The output depends only on the header files and the spec (no dates, no machine
// paths, no libclang version), so regenerating on another machine gives the same bytes: the drift test's rule.
using System.Security.Cryptography;
using System.Text;

namespace Cuda.Nn.BindingGen;

/// <summary>One generated file and what went into it.</summary>
public sealed record GeneratedBinding(string Text, string HeaderSha256, IReadOnlyList<string> HashedFiles,
    IReadOnlyList<FunctionSignature> Functions, IReadOnlyList<string> Enums, IReadOnlyDictionary<string, long> StructSizes);

/// <summary>An emitted function: its C name and the C# types of its return value and parameters ("out nint", "int*").</summary>
public sealed record FunctionSignature(string Name, string Return, IReadOnlyList<string> Parameters);

public static class BindingGenerator
{
    private static readonly HashSet<string> Keywords =
    [
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock", "long",
        "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected", "public",
        "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string", "struct", "switch",
        "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void",
        "volatile", "while",
    ];

    private static readonly HashSet<string> FixedBufferTypes = ["byte", "sbyte", "short", "ushort", "int", "uint", "long", "ulong", "float", "double"];

    /// <summary>Generates the spec's file from headers found in <paramref name="includeDirs"/> (searched in order).</summary>
    public static GeneratedBinding Generate(BindingSpec spec, IReadOnlyList<string> includeDirs)
    {
        string header = includeDirs.Select(d => Path.Combine(d, spec.Header)).FirstOrDefault(File.Exists)
            ?? throw new BindingGenException($"{spec.SourcePath}: {spec.Header} is in none of {string.Join(", ", includeDirs)}");
        using var tu = new TranslationUnit(header, includeDirs, spec.Defines);

        var functions = new List<BindingSpec.FunctionEntry>(spec.Functions.Select(spec.ParseFunction));
        var enums = new List<string>(spec.Enums);
        var structs = new List<string>(spec.Structs);
        if (spec.Prefix is { } prefix)
            foreach (var (kind, name) in tu.MainFileDeclarations.Where(d => d.Name.StartsWith(prefix, StringComparison.Ordinal)))
            {
                if (kind == CXCursorKind.FunctionDecl && functions.All(f => f.Name != name)) functions.Add(spec.ParseFunction(name));
                else if (kind == CXCursorKind.EnumDecl && !enums.Contains(name) && !SameDefinition(tu.Enums, enums, name)) enums.Add(name);
                else if (kind == CXCursorKind.StructDecl && !structs.Contains(name) && !SameDefinition(tu.Structs, structs, name)) structs.Add(name);
            }

        var structCursors = new List<(CXCursor Cursor, string Name)>();
        foreach (var s in structs)
        {
            if (!tu.Structs.TryGetValue(s, out var c)) throw Missing(spec, "struct", s);
            structCursors.Add((c, TypeName(s)));
        }
        var mapper = new TypeMapper(decl => structCursors.FirstOrDefault(e => LibClang.clang_equalCursors(e.Cursor, decl) != 0).Name);

        var body = new StringBuilder();
        foreach (var e in enums)
        {
            if (!tu.Enums.TryGetValue(e, out var c)) throw Missing(spec, "enum", e);
            EmitEnum(body, spec, e, c);
        }
        for (int i = 0; i < structs.Count; i++) EmitStruct(body, spec, structs[i], structCursors[i].Name, structCursors[i].Cursor, mapper);
        string import = spec.LibraryConstant ?? Quote(spec.LibraryName!);
        var signatures = new List<FunctionSignature>();
        foreach (var f in functions)
        {
            if (!tu.Functions.TryGetValue(f.Name, out var c)) throw Missing(spec, "function", f.Name);
            signatures.Add(EmitFunction(body, spec, f, c, mapper, import));
        }

        var (hash, files) = HashHeaders(tu, includeDirs);
        var versions = spec.VersionMacros.Select(m => VersionOf(m, tu, includeDirs, spec)).ToList();
        var code = new StringBuilder();
        code.Append("using System.Runtime.InteropServices;\n\n");
        code.Append($"namespace {spec.Namespace};\n\n");
        code.Append($"{spec.Visibility} static unsafe partial class {spec.Class}\n{{\n");
        if (spec.Initializer is { } init) code.Append($"    static {spec.Class}() => {init};\n\n");
        code.Append(body.ToString().TrimEnd('\n')).Append('\n');
        code.Append("}\n");
        var text = new StringBuilder();
        text.Append("// <auto-generated>\n");
        text.Append($"// Generated by tools/BindingGen from {spec.Header} with {spec.RelativeSourcePath()}; do not edit, regenerate with scripts/generate-bindings.sh.\n");
        text.Append($"// Header: {spec.Header}{(versions.Count > 0 ? ", " + string.Join(", ", versions) : "")}\n");
        text.Append($"// Header SHA-256: {hash} ({spec.Header}{(files.Count > 1 ? $" and the {files.Count - 1} headers it includes from its include folders" : "")})\n");
        // Without the headers a test can still tell a hand edit (code hash) or a spec changed since generation (spec hash).
        text.Append($"// Spec SHA-256: {spec.ContentHash()}; code SHA-256: {CodeHash(code.ToString())}\n");
        text.Append("// </auto-generated>\n");
        text.Append(code);
        var sizes = structCursors.ToDictionary(e => e.Name, e => LibClang.clang_Type_getSizeOf(LibClang.clang_getCursorType(e.Cursor)));
        return new GeneratedBinding(text.ToString(), hash, files, signatures, enums, sizes);
    }

    // A prefix match may name a definition the lists already hold under its other name (tag vs typedef).
    private static bool SameDefinition(Dictionary<string, CXCursor> map, List<string> listed, string name) =>
        listed.Any(l => map.TryGetValue(l, out var a) && map.TryGetValue(name, out var b) && LibClang.clang_equalCursors(a, b) != 0);

    private static BindingGenException Missing(BindingSpec spec, string what, string name) =>
        new($"{spec.SourcePath}: {spec.Header} (and what it includes) defines no {what} named {name}");

    private static FunctionSignature EmitFunction(StringBuilder sb, BindingSpec spec, BindingSpec.FunctionEntry entry, CXCursor c, TypeMapper mapper, string import)
    {
        string where = $"{spec.Header}: {entry.Name}";
        var type = LibClang.clang_getCursorType(c);
        if (type.Kind == CXTypeKind.FunctionNoProto) throw new BindingGenException($"{where}: declared without a prototype");
        if (LibClang.clang_isFunctionTypeVariadic(type) != 0) throw new BindingGenException($"{where}: variadic functions cannot be bound");
        var result = LibClang.clang_getCursorResultType(c);
        string ret = mapper.Map(result, where + " (return type)");
        int n = LibClang.clang_Cursor_getNumArguments(c);
        var cParams = new List<string>();
        var csParams = new List<string>();
        var names = new HashSet<string>();
        for (uint i = 0; i < n; i++)
        {
            var arg = LibClang.clang_Cursor_getArgument(c, i);
            string name = LibClang.Spelling(arg);
            if (name.Length == 0) name = $"arg{i}";
            names.Add(name);
            var argType = LibClang.clang_getCursorType(arg);
            string cType = LibClang.Spelling(argType);
            cParams.Add(cType.EndsWith('*') ? cType + name : $"{cType} {name}");
            string cs = mapper.Map(argType, $"{where}, parameter {name}");
            if (entry.TypeOverrides.TryGetValue(name, out var over))
            {
                if (!cs.EndsWith('*') && cs is not ("nint" or "nuint") || TypeMapper.SizeOf(over) != 8)
                    throw new BindingGenException($"{spec.SourcePath}: {entry.Name}: {name}={over} may only replace a pointer by another 8-byte blittable type (the C type maps to {cs})");
                cs = over;
            }
            if (entry.ByRef.TryGetValue(name, out var mode))
            {
                if (!cs.EndsWith('*') || LibClang.clang_isConstQualifiedType(LibClang.clang_getPointeeType(argType)) != 0 || cs == "void*")
                    throw new BindingGenException($"{spec.SourcePath}: {entry.Name}: {mode}:{name} needs a pointer to a non-const, non-void type (the C type maps to {cs})");
                cs = $"{mode} {cs[..^1]}";
            }
            csParams.Add($"{cs} {Identifier(name)}");
        }
        foreach (var key in entry.ByRef.Keys.Concat(entry.TypeOverrides.Keys).Where(k => !names.Contains(k)))
            throw new BindingGenException($"{spec.SourcePath}: {entry.Name} has no parameter named {key} (it has: {string.Join(", ", names)})");
        sb.Append($"    // {LibClang.Spelling(result)} {entry.Name}({string.Join(", ", cParams)})\n");
        sb.Append($"    [LibraryImport({import})]\n");
        sb.Append($"    {spec.Visibility} static partial {ret} {entry.Name}({string.Join(", ", csParams)});\n\n");
        return new FunctionSignature(entry.Name, ret, csParams.Select(p => p[..p.LastIndexOf(' ')]).ToList());
    }

    private static void EmitEnum(StringBuilder sb, BindingSpec spec, string cName, CXCursor c)
    {
        var members = LibClang.Children(c).Where(m => m.Kind == CXCursorKind.EnumConstantDecl)
            .Select(m => (Name: LibClang.Spelling(m), Signed: LibClang.clang_getEnumConstantDeclValue(m), Unsigned: LibClang.clang_getEnumConstantDeclUnsignedValue(m)))
            .ToList();
        if (members.Count == 0) throw new BindingGenException($"{spec.Header}: enum {cName} has no members");
        // The enum's own integer type says how to read its values (0x80000000u in an unsigned enum is not negative).
        var integer = LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(c)).Kind;
        bool unsigned = integer is CXTypeKind.UInt or CXTypeKind.ULong or CXTypeKind.ULongLong or CXTypeKind.UShort or CXTypeKind.UChar or CXTypeKind.CharU;
        string underlying = !unsigned ? (members.All(m => m.Signed is >= int.MinValue and <= int.MaxValue) ? "int" : "long")
            : members.All(m => m.Unsigned <= int.MaxValue) ? "int" : members.All(m => m.Unsigned <= uint.MaxValue) ? "uint" : "ulong";
        string prefix = CommonPrefix(members.Select(m => m.Name).ToList());
        sb.Append($"    // enum {cName}\n");
        sb.Append($"    {spec.Visibility} enum {TypeName(cName)}{(underlying == "int" ? "" : " : " + underlying)}\n    {{\n");
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in members)
        {
            string name = MemberName(m.Name, prefix);
            if (!seen.TryAdd(name, m.Name)) throw new BindingGenException($"{spec.Header}: enum {cName}: {seen[name]} and {m.Name} both become {name}");
            string value = underlying is "uint" or "ulong" ? m.Unsigned.ToString() : m.Signed.ToString();
            sb.Append($"        {name} = {value},\n");
        }
        sb.Append("    }\n\n");
    }

    private static void EmitStruct(StringBuilder sb, BindingSpec spec, string cName, string csName, CXCursor c, TypeMapper mapper)
    {
        var type = LibClang.clang_getCursorType(c);
        long size = LibClang.clang_Type_getSizeOf(type), align = LibClang.clang_Type_getAlignOf(type);
        sb.Append($"    // struct {cName}: sizeof {size}, alignof {align} (clang)\n");
        sb.Append($"    [StructLayout(LayoutKind.Sequential)]\n");
        sb.Append($"    {spec.Visibility} struct {csName}\n    {{\n");
        sb.Append($"        /// <summary>sizeof in C, as clang computed it; the tests hold this struct's size to it.</summary>\n");
        sb.Append($"        internal const int NativeSize = {size};\n\n");
        foreach (var f in LibClang.Children(c).Where(f => f.Kind == CXCursorKind.FieldDecl))
        {
            string fName = LibClang.Spelling(f);
            string where = $"{spec.Header}: struct {cName}, field {fName}";
            if (LibClang.clang_Cursor_isBitField(f) != 0) throw new BindingGenException($"{where}: bit fields cannot be bound");
            if (fName.Length == 0) throw new BindingGenException($"{where}: anonymous members cannot be bound");
            var fType = LibClang.clang_getCursorType(f);
            var canonical = LibClang.clang_getCanonicalType(fType);
            string name = char.ToUpperInvariant(fName[0]) + fName[1..];
            if (canonical.Kind == CXTypeKind.ConstantArray)
            {
                // The element type as written keeps its typedef (uint64_t, not glibc's unsigned long).
                var array = fType.Kind == CXTypeKind.ConstantArray ? fType : canonical;
                string element = mapper.Map(LibClang.clang_getArrayElementType(array), where);
                if (!FixedBufferTypes.Contains(element)) throw new BindingGenException($"{where}: arrays of {element} cannot be a fixed buffer");
                sb.Append($"        public fixed {element} {name}[{LibClang.clang_getArraySize(canonical)}];\n");
            }
            else sb.Append($"        public {mapper.Map(fType, where)} {name};\n");
        }
        sb.Append("    }\n\n");
    }

    /// <summary>SHA-256 of the code below the head comment (what a hand edit would change).</summary>
    public static string CodeHash(string code) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(code)));

    private static (string Hash, List<string> Files) HashHeaders(TranslationUnit tu, IReadOnlyList<string> includeDirs)
    {
        // Only the files under the spec's include folders: system and compiler headers differ between machines.
        var roots = includeDirs.Select(d => Path.GetFullPath(d).TrimEnd('/') + "/").ToList();
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in tu.Files())
            if (roots.FirstOrDefault(r => file.StartsWith(r, StringComparison.Ordinal)) is { } root)
                files.TryAdd(file[root.Length..], file);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (relative, full) in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(relative + "\n"));
            sha.AppendData(SHA256.HashData(File.ReadAllBytes(full)));
        }
        return (Convert.ToHexStringLower(sha.GetHashAndReset()), files.Keys.ToList());
    }

    private static string VersionOf(string macro, TranslationUnit tu, IReadOnlyList<string> includeDirs, BindingSpec spec)
    {
        int colon = macro.IndexOf(':');
        if (colon < 0) return $"{macro} {tu.MacroValue(macro)}";
        string file = macro[..colon], name = macro[(colon + 1)..];
        string path = includeDirs.Select(d => Path.Combine(d, file)).FirstOrDefault(File.Exists)
            ?? throw new BindingGenException($"{spec.SourcePath}: version macro {macro}: {file} is in none of the include folders");
        using var other = new TranslationUnit(path, includeDirs, spec.Defines);
        return $"{name} {other.MacroValue(name)} (from {file})";
    }

    /// <summary>C type name -> C# name: drop _t/_enum, then PascalCase the underscore-separated parts (CUdevice_attribute -> CUdeviceAttribute).</summary>
    public static string TypeName(string cName)
    {
        string s = cName.EndsWith("_t", StringComparison.Ordinal) ? cName[..^2] : cName.EndsWith("_enum", StringComparison.Ordinal) ? cName[..^5] : cName;
        return string.Concat(s.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
    }

    /// <summary>The longest common prefix of the names that ends at an underscore ("CU_DEVICE_ATTRIBUTE_").</summary>
    public static string CommonPrefix(IReadOnlyList<string> names)
    {
        string first = names[0];
        int n = first.Length;
        foreach (var name in names.Skip(1))
        {
            int i = 0;
            while (i < n && i < name.Length && name[i] == first[i]) i++;
            n = i;
        }
        int cut = first.LastIndexOf('_', Math.Max(0, Math.Min(n, first.Length) - 1));
        // A single member, or one equal to the prefix itself, keeps its last part.
        if (cut >= 0 && names.Any(m => m.Length <= cut + 1)) cut = first.LastIndexOf('_', Math.Max(0, cut - 1));
        return cut < 0 ? "" : first[..(cut + 1)];
    }

    /// <summary>
    /// CU_DEVICE_ATTRIBUTE_WARP_SIZE with prefix CU_DEVICE_ATTRIBUTE_ -> WarpSize; a rest that starts with a digit keeps the
    /// prefix's last word (CUBLAS_COMPUTE_32F -> Compute32F). Words that start with a digit keep their case (16BF).
    /// </summary>
    public static string MemberName(string cName, string prefix)
    {
        string rest = cName[prefix.Length..];
        if (rest.Length == 0 || char.IsDigit(rest[0]))
        {
            var words = prefix.TrimEnd('_').Split('_');
            rest = words[^1] + "_" + rest;
        }
        return string.Concat(rest.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(Word));
    }

    private static string Word(string w) =>
        char.IsDigit(w[0]) ? w : w.Any(char.IsLower) ? char.ToUpperInvariant(w[0]) + w[1..] : w[0] + w[1..].ToLowerInvariant();

    private static string Identifier(string name) => Keywords.Contains(name) ? "@" + name : name;

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
