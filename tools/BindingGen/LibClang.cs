// The few clang_* functions of libclang's C API (clang-c/Index.h) that the generator needs, bound by hand:
// this is the bootstrap the generator cannot generate for itself. The native library comes from the NuGet
// package libclang.runtime.linux-x64; see LibClangLoader for how it is found.
using System.Runtime.InteropServices;

namespace Cuda.Nn.BindingGen;

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXCursor
{
    public CXCursorKind Kind;
    public int Xdata;
    public void* Data0, Data1, Data2;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXType
{
    public CXTypeKind Kind;
    public void* Data0, Data1;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXString
{
    public void* Data;
    public uint PrivateFlags;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXSourceLocation
{
    public void* Ptr0, Ptr1;
    public uint IntData;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXSourceRange
{
    public void* Ptr0, Ptr1;
    public uint BeginIntData, EndIntData;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXToken
{
    public fixed uint IntData[4];
    public void* PtrData;
}

/// <summary>CXCursorKind values used here (Index.h).</summary>
internal enum CXCursorKind
{
    StructDecl = 2,
    UnionDecl = 3,
    EnumDecl = 5,
    FieldDecl = 6,
    EnumConstantDecl = 7,
    FunctionDecl = 8,
    ParmDecl = 10,
    TypedefDecl = 20,
    MacroDefinition = 501,
}

/// <summary>CXTypeKind values used here (Index.h).</summary>
internal enum CXTypeKind
{
    Invalid = 0, Unexposed = 1, Void = 2, Bool = 3, CharU = 4, UChar = 5, Char16 = 6, Char32 = 7, UShort = 8, UInt = 9,
    ULong = 10, ULongLong = 11, UInt128 = 12, CharS = 13, SChar = 14, WChar = 15, Short = 16, Int = 17, Long = 18,
    LongLong = 19, Int128 = 20, Float = 21, Double = 22, LongDouble = 23, Half = 31, Float16 = 32, BFloat16 = 39,
    Pointer = 101, Record = 105, Enum = 106, Typedef = 107, FunctionNoProto = 110, FunctionProto = 111,
    ConstantArray = 112, IncompleteArray = 114, Elaborated = 119,
}

internal enum CXChildVisitResult { Break = 0, Continue = 1, Recurse = 2 }

internal static unsafe partial class LibClang
{
    private const string Lib = "libclang";

    static LibClang() => LibClangLoader.Install();

    public const uint DetailedPreprocessingRecord = 0x01, SkipFunctionBodies = 0x40;
    public const int DiagnosticError = 3;

    [LibraryImport(Lib)] public static partial void* clang_createIndex(int excludeDeclarationsFromPch, int displayDiagnostics);
    [LibraryImport(Lib)] public static partial void clang_toggleCrashRecovery(uint isEnabled);
    [LibraryImport(Lib)] public static partial void clang_disposeIndex(void* index);
    [LibraryImport(Lib)]
    public static partial int clang_parseTranslationUnit2(void* index, byte* sourceFilename, byte** commandLineArgs, int numArgs,
        void* unsavedFiles, uint numUnsavedFiles, uint options, void** translationUnit);
    [LibraryImport(Lib)] public static partial void clang_disposeTranslationUnit(void* translationUnit);
    [LibraryImport(Lib)] public static partial uint clang_getNumDiagnostics(void* translationUnit);
    [LibraryImport(Lib)] public static partial void* clang_getDiagnostic(void* translationUnit, uint index);
    [LibraryImport(Lib)] public static partial int clang_getDiagnosticSeverity(void* diagnostic);
    [LibraryImport(Lib)] public static partial CXString clang_formatDiagnostic(void* diagnostic, uint options);
    [LibraryImport(Lib)] public static partial uint clang_defaultDiagnosticDisplayOptions();
    [LibraryImport(Lib)] public static partial void clang_disposeDiagnostic(void* diagnostic);

    [LibraryImport(Lib)] public static partial CXCursor clang_getTranslationUnitCursor(void* translationUnit);
    [LibraryImport(Lib)]
    public static partial uint clang_visitChildren(CXCursor parent, delegate* unmanaged<CXCursor, CXCursor, void*, CXChildVisitResult> visitor, void* clientData);
    [LibraryImport(Lib)] public static partial CXString clang_getCursorSpelling(CXCursor cursor);
    [LibraryImport(Lib)] public static partial CXType clang_getCursorType(CXCursor cursor);
    [LibraryImport(Lib)] public static partial CXType clang_getCursorResultType(CXCursor cursor);
    [LibraryImport(Lib)] public static partial int clang_Cursor_getNumArguments(CXCursor cursor);
    [LibraryImport(Lib)] public static partial CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [LibraryImport(Lib)] public static partial uint clang_isCursorDefinition(CXCursor cursor);
    [LibraryImport(Lib)] public static partial uint clang_Cursor_isBitField(CXCursor cursor);
    [LibraryImport(Lib)] public static partial uint clang_Cursor_isAnonymousRecordDecl(CXCursor cursor);
    [LibraryImport(Lib)] public static partial long clang_Cursor_getOffsetOfField(CXCursor cursor);
    [LibraryImport(Lib)] public static partial long clang_getEnumConstantDeclValue(CXCursor cursor);
    [LibraryImport(Lib)] public static partial ulong clang_getEnumConstantDeclUnsignedValue(CXCursor cursor);
    [LibraryImport(Lib)] public static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);
    [LibraryImport(Lib)] public static partial CXType clang_getTypedefDeclUnderlyingType(CXCursor cursor);
    [LibraryImport(Lib)] public static partial uint clang_Cursor_isMacroFunctionLike(CXCursor cursor);
    [LibraryImport(Lib)] public static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [LibraryImport(Lib)] public static partial CXSourceRange clang_getCursorExtent(CXCursor cursor);

    [LibraryImport(Lib)] public static partial CXType clang_getCanonicalType(CXType type);
    [LibraryImport(Lib)] public static partial CXType clang_getPointeeType(CXType type);
    [LibraryImport(Lib)] public static partial CXType clang_Type_getNamedType(CXType type);
    [LibraryImport(Lib)] public static partial CXType clang_getArrayElementType(CXType type);
    [LibraryImport(Lib)] public static partial long clang_getArraySize(CXType type);
    [LibraryImport(Lib)] public static partial long clang_Type_getSizeOf(CXType type);
    [LibraryImport(Lib)] public static partial long clang_Type_getAlignOf(CXType type);
    [LibraryImport(Lib)] public static partial uint clang_isConstQualifiedType(CXType type);
    [LibraryImport(Lib)] public static partial uint clang_isFunctionTypeVariadic(CXType type);
    [LibraryImport(Lib)] public static partial CXString clang_getTypeSpelling(CXType type);
    [LibraryImport(Lib)] public static partial CXString clang_getTypedefName(CXType type);
    [LibraryImport(Lib)] public static partial CXCursor clang_getTypeDeclaration(CXType type);
    [LibraryImport(Lib)] public static partial uint clang_equalCursors(CXCursor a, CXCursor b);

    [LibraryImport(Lib)] public static partial void clang_getSpellingLocation(CXSourceLocation location, void** file, uint* line, uint* column, uint* offset);
    [LibraryImport(Lib)] public static partial CXString clang_getFileName(void* file);
    [LibraryImport(Lib)]
    public static partial void clang_getInclusions(void* translationUnit, delegate* unmanaged<void*, CXSourceLocation*, uint, void*, void> visitor, void* clientData);
    [LibraryImport(Lib)] public static partial void clang_tokenize(void* translationUnit, CXSourceRange range, CXToken** tokens, uint* numTokens);
    [LibraryImport(Lib)] public static partial CXString clang_getTokenSpelling(void* translationUnit, CXToken token);
    [LibraryImport(Lib)] public static partial void clang_disposeTokens(void* translationUnit, CXToken* tokens, uint numTokens);
    [LibraryImport(Lib)] public static partial CXString clang_getClangVersion();

    [LibraryImport(Lib)] public static partial byte* clang_getCString(CXString text);
    [LibraryImport(Lib)] public static partial void clang_disposeString(CXString text);

    /// <summary>Copies a CXString into a .NET string and frees it.</summary>
    public static string Take(CXString text)
    {
        try
        {
            return Marshal.PtrToStringUTF8((nint)clang_getCString(text)) ?? "";
        }
        finally
        {
            clang_disposeString(text);
        }
    }

    public static string Spelling(CXCursor cursor) => Take(clang_getCursorSpelling(cursor));
    public static string Spelling(CXType type) => Take(clang_getTypeSpelling(type));

    /// <summary>The file a cursor is spelled in (empty for built-ins).</summary>
    public static string FileOf(CXCursor cursor)
    {
        void* file;
        clang_getSpellingLocation(clang_getCursorLocation(cursor), &file, null, null, null);
        return file is null ? "" : Take(clang_getFileName(file));
    }

    /// <summary>The direct children of a cursor, in source order.</summary>
    public static List<CXCursor> Children(CXCursor parent)
    {
        var list = new List<CXCursor>();
        var handle = GCHandle.Alloc(list);
        try
        {
            clang_visitChildren(parent, &CollectChild, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return list;
    }

    [UnmanagedCallersOnly]
    private static CXChildVisitResult CollectChild(CXCursor cursor, CXCursor parent, void* clientData)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr((nint)clientData).Target!).Add(cursor);
        return CXChildVisitResult.Continue;
    }

    /// <summary>Every file the translation unit read (the main file and all it included).</summary>
    public static List<string> IncludedFiles(void* translationUnit)
    {
        var list = new List<string>();
        var handle = GCHandle.Alloc(list);
        try
        {
            clang_getInclusions(translationUnit, &CollectInclusion, (void*)GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }
        return list;
    }

    [UnmanagedCallersOnly]
    private static void CollectInclusion(void* file, CXSourceLocation* stack, uint depth, void* clientData) =>
        ((List<string>)GCHandle.FromIntPtr((nint)clientData).Target!).Add(Take(clang_getFileName(file)));

    /// <summary>The tokens of a cursor's extent (a macro definition: its name, then its body).</summary>
    public static List<string> Tokens(void* translationUnit, CXCursor cursor)
    {
        CXToken* tokens;
        uint count;
        clang_tokenize(translationUnit, clang_getCursorExtent(cursor), &tokens, &count);
        var list = new List<string>((int)count);
        for (uint i = 0; i < count; i++) list.Add(Take(clang_getTokenSpelling(translationUnit, tokens[i])));
        if (tokens is not null) clang_disposeTokens(translationUnit, tokens, count);
        return list;
    }
}

/// <summary>
/// Finds libclang.so: CUDANN_LIBCLANG_PATH (a file), the application's own folder (bindgen's build output gets
/// it from the NuGet package), then the package in the NuGet cache (NUGET_PACKAGES or ~/.nuget/packages), which
/// is how the test project reaches it without copying 220 MB into its own output.
/// </summary>
public static class LibClangLoader
{
    public const string PackageId = "libclang.runtime.linux-x64", PackageVersion = "23.1.5";
    private static int installed;
    private static readonly Lazy<(nint Handle, string? Error)> Loaded = new(LoadOnce);

    internal static void Install()
    {
        if (Interlocked.Exchange(ref installed, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(LibClangLoader).Assembly, (name, _, _) =>
            name == "libclang" ? Loaded.Value.Handle != 0 ? Loaded.Value.Handle : throw new DllNotFoundException(Loaded.Value.Error) : 0);
    }

    /// <summary>Null when libclang loads; otherwise where it was looked for.</summary>
    public static string? UnavailableReason()
    {
        Install();
        return Loaded.Value.Error;
    }

    public static IReadOnlyList<string> Candidates()
    {
        var list = new List<string>();
        if (Environment.GetEnvironmentVariable("CUDANN_LIBCLANG_PATH") is { Length: > 0 } overridePath) return [overridePath];
        list.Add(Path.Combine(AppContext.BaseDirectory, "libclang.so"));
        list.Add(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libclang.so"));
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        list.Add(Path.Combine(packages, PackageId, PackageVersion, "runtimes", "linux-x64", "native", "libclang.so"));
        return list;
    }

    private static (nint, string?) LoadOnce()
    {
        var candidates = Candidates();
        var failures = new List<string>();
        foreach (var path in candidates)
        {
            if (!File.Exists(path)) continue;
            if (NativeLibrary.TryLoad(path, out nint handle)) return (handle, null);
            failures.Add(path + " exists but did not load");
        }
        return (0, $"libclang.so not found (NuGet package {PackageId} {PackageVersion}; run dotnet restore, or set CUDANN_LIBCLANG_PATH); " +
            $"looked at: {string.Join(", ", candidates)}{(failures.Count > 0 ? "; " + string.Join("; ", failures) : "")}");
    }
}
