// One parsed header: libclang's translation unit, with its top-level declarations indexed by name.
using System.Runtime.InteropServices;

namespace Cuda.Nn.BindingGen;

internal sealed unsafe class TranslationUnit : IDisposable
{
    private void* index, unit;

    public string MainFile { get; }
    public Dictionary<string, CXCursor> Functions { get; } = new(StringComparer.Ordinal);
    /// <summary>Enum and struct definitions by tag name and by typedef name.</summary>
    public Dictionary<string, CXCursor> Enums { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, CXCursor> Structs { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, CXCursor> Macros { get; } = new(StringComparer.Ordinal);
    /// <summary>Names introduced by typedef (C code can use them without "struct"/"enum").</summary>
    public HashSet<string> TypedefNames { get; } = new(StringComparer.Ordinal);
    /// <summary>C names declared in the main file itself, in source order (for a spec's prefix).</summary>
    public List<(CXCursorKind Kind, string Name)> MainFileDeclarations { get; } = [];

    internal void* Handle => unit;

    /// <summary>Parses a header as C11 for x86_64 Linux; any error diagnostic fails with clang's own messages.</summary>
    public TranslationUnit(string header, IEnumerable<string> includeDirs, IEnumerable<string> defines)
    {
        MainFile = Path.GetFullPath(header);
        var args = new List<string> { "-x", "c", "-std=c11", "--target=x86_64-pc-linux-gnu" };
        foreach (var dir in includeDirs) args.AddRange(["-I", dir]);
        if (HeaderLocator.BuiltinInclude() is { } builtin) args.AddRange(["-isystem", builtin]);
        foreach (var d in defines) args.Add("-D" + d);

        var pinned = new List<nint>();
        try
        {
            byte* Utf8(string s)
            {
                nint p = Marshal.StringToCoTaskMemUTF8(s);
                pinned.Add(p);
                return (byte*)p;
            }
            var argv = stackalloc byte*[args.Count];
            for (int i = 0; i < args.Count; i++) argv[i] = Utf8(args[i]);
            index = LibClang.clang_createIndex(0, 0);
            // clang_createIndex turns on LLVM's crash recovery, which installs process-wide SIGSEGV/SIGILL handlers and
            // leaves them: in a .NET process (the tests) every later null dereference then dies with "Illegal
            // instruction" instead of a NullReferenceException. Off again at once; a header that crashes clang crashes us.
            LibClang.clang_toggleCrashRecovery(0);
            void* tu;
            int status = LibClang.clang_parseTranslationUnit2(index, Utf8(MainFile), argv, args.Count, null, 0,
                LibClang.DetailedPreprocessingRecord | LibClang.SkipFunctionBodies, &tu);
            if (status != 0) throw new BindingGenException($"{MainFile}: libclang could not parse it (CXErrorCode {status}; args: {string.Join(' ', args)})");
            unit = tu;
        }
        finally
        {
            foreach (var p in pinned) Marshal.FreeCoTaskMem(p);
        }
        CheckDiagnostics(args);
        Index();
    }

    private void CheckDiagnostics(List<string> args)
    {
        var errors = new List<string>();
        uint n = LibClang.clang_getNumDiagnostics(unit);
        for (uint i = 0; i < n; i++)
        {
            void* d = LibClang.clang_getDiagnostic(unit, i);
            if (LibClang.clang_getDiagnosticSeverity(d) >= LibClang.DiagnosticError)
                errors.Add(LibClang.Take(LibClang.clang_formatDiagnostic(d, LibClang.clang_defaultDiagnosticDisplayOptions())));
            LibClang.clang_disposeDiagnostic(d);
        }
        if (errors.Count > 0)
        {
            string hint = HeaderLocator.BuiltinInclude() is null
                ? " (no compiler headers such as stddef.h were found: install gcc or clang, or set CUDANN_CLANG_INCLUDE)" : "";
            throw new BindingGenException($"{MainFile}: {errors.Count} error(s) parsing it{hint}: {string.Join(" | ", errors.Take(5))}");
        }
    }

    private void Index()
    {
        foreach (var c in LibClang.Children(LibClang.clang_getTranslationUnitCursor(unit)))
        {
            string name = LibClang.Spelling(c);
            bool inMain = LibClang.FileOf(c) == MainFile;
            switch (c.Kind)
            {
                case CXCursorKind.FunctionDecl:
                    if (Functions.TryAdd(name, c) && inMain) MainFileDeclarations.Add((c.Kind, name));
                    break;
                case CXCursorKind.EnumDecl when LibClang.clang_isCursorDefinition(c) != 0:
                    if (name.Length > 0 && LibClang.clang_Cursor_isAnonymousRecordDecl(c) == 0 && !name.Contains(' ')) Add(Enums, name, c, inMain);
                    break;
                case CXCursorKind.StructDecl when LibClang.clang_isCursorDefinition(c) != 0:
                    if (name.Length > 0 && !name.Contains(' ')) Add(Structs, name, c, inMain);
                    break;
                case CXCursorKind.TypedefDecl:
                {
                    TypedefNames.Add(name);
                    // typedef enum/struct X {...} Y: Y names the same definition (also when the tag is anonymous).
                    var underlying = LibClang.clang_getCanonicalType(LibClang.clang_getTypedefDeclUnderlyingType(c));
                    var decl = LibClang.clang_getTypeDeclaration(underlying);
                    if (LibClang.clang_isCursorDefinition(decl) == 0) break;
                    if (underlying.Kind == CXTypeKind.Enum) Add(Enums, name, decl, inMain);
                    else if (underlying.Kind == CXTypeKind.Record && decl.Kind == CXCursorKind.StructDecl) Add(Structs, name, decl, inMain);
                    break;
                }
                case CXCursorKind.MacroDefinition:
                    Macros.TryAdd(name, c);
                    break;
            }
        }
    }

    private void Add(Dictionary<string, CXCursor> map, string name, CXCursor c, bool inMain)
    {
        if (map.TryAdd(name, c) && inMain) MainFileDeclarations.Add((c.Kind, name));
    }

    /// <summary>A simple macro's body as written (tokens joined by spaces), e.g. "11080".</summary>
    public string MacroValue(string name)
    {
        if (!Macros.TryGetValue(name, out var c)) throw new BindingGenException($"{MainFile}: no macro {name}");
        if (LibClang.clang_Cursor_isMacroFunctionLike(c) != 0) throw new BindingGenException($"{MainFile}: macro {name} takes arguments; name a plain one");
        return string.Join(' ', LibClang.Tokens(unit, c).Skip(1));
    }

    /// <summary>Every file read while parsing, the header itself included.</summary>
    public List<string> Files()
    {
        var files = LibClang.IncludedFiles(unit).Select(Path.GetFullPath).Distinct().ToList();
        if (!files.Contains(MainFile)) files.Add(MainFile);
        return files;
    }

    public void Dispose()
    {
        if (unit is not null) LibClang.clang_disposeTranslationUnit(unit);
        if (index is not null) LibClang.clang_disposeIndex(index);
        unit = index = null;
    }
}
