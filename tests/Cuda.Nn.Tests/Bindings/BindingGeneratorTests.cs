// The generator on a header of our own (fixture/fixture.h), no CUDA headers needed. The checked-in
// Fixture.g.cs is the generator's output (regenerated, compared here) and is compiled into this assembly, so
// the properties below are checked on the real C# types: every fx_ function is there with clang's parameter
// count and same-sized, same-kind blittable types; enum values and struct sizes and field offsets equal
// clang's and, where a C compiler is on PATH, what that compiler says about the same header.
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using Cuda.Nn.BindingGen;
using static Cuda.Nn.Tests.Bindings.BindingTestSupport;

namespace Cuda.Nn.Tests.Bindings;

public sealed unsafe class BindingGeneratorTests
{
    private static string FixtureDir => Path.Combine(Root, "tests", "Cuda.Nn.Tests", "Bindings", "fixture");
    private static string FixtureHeader => Path.Combine(FixtureDir, "fixture.h");
    private static BindingSpec FixtureSpec => BindingSpec.Load(Path.Combine(FixtureDir, "fixture.json"));
    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance;

    private static TranslationUnit ParseFixture() => new(FixtureHeader, [FixtureDir], []);

    [Fact]
    public void CheckedInFixtureBindingIsTheGeneratorsOutput()
    {
        RequireLibClang();
        var spec = FixtureSpec;
        var generated = BindingGenerator.Generate(spec, Program.ResolveIncludes(spec).Dirs);
        Assert.Equal(File.ReadAllText(Path.Combine(Root, spec.Output)), generated.Text);
        Assert.Equal(13, generated.Functions.Count);
    }

    [Fact]
    public void EveryFixtureFunctionIsBoundWithClangsParameters()
    {
        RequireLibClang();
        using var tu = ParseFixture();
        var functions = tu.MainFileDeclarations.Where(d => d.Kind == CXCursorKind.FunctionDecl).Select(d => d.Name).ToList();
        Assert.Equal(13, functions.Count);
        foreach (var name in functions)
        {
            var c = tu.Functions[name];
            var method = Method(typeof(FixtureNative), name);
            Assert.NotNull(method.GetCustomAttribute<LibraryImportAttribute>());
            var parameters = method.GetParameters();
            int n = LibClang.clang_Cursor_getNumArguments(c);
            Assert.True(n == parameters.Length, $"{name}: {n} parameters in C, {parameters.Length} in C#");
            AssertCompatible(LibClang.clang_getCursorResultType(c), method.ReturnType, $"{name} return");
            for (uint i = 0; i < n; i++)
                AssertCompatible(LibClang.clang_getCursorType(LibClang.clang_Cursor_getArgument(c, i)), parameters[i].ParameterType, $"{name} parameter {i}");
        }
        // The spec's annotations: out/ref on the named pointers, a pointer override, nothing else by reference.
        Assert.True(Method(typeof(FixtureNative), "fx_create").GetParameters()[0].IsOut);
        var version = Method(typeof(FixtureNative), "fx_version").GetParameters();
        Assert.True(version[0].IsOut && version[1].ParameterType.IsByRef && !version[1].IsOut);
        Assert.Equal(typeof(nint*), Method(typeof(FixtureNative), "fx_launch").GetParameters()[1].ParameterType);
        Assert.Equal(typeof(nint), Method(typeof(FixtureNative), "fx_set_callback").GetParameters()[0].ParameterType); // a function pointer
    }

    // Same size, and the same kind: a pointer (or a handle held as nint), a signed or unsigned integer, a float, a struct.
    private static void AssertCompatible(CXType cType, Type cs, string where)
    {
        var k = LibClang.clang_getCanonicalType(cType);
        string spelled = LibClang.Spelling(cType);
        string cKind = k.Kind switch
        {
            CXTypeKind.Void => "void",
            CXTypeKind.Pointer or CXTypeKind.ConstantArray or CXTypeKind.IncompleteArray => "pointer",
            CXTypeKind.Float or CXTypeKind.Double => "float",
            CXTypeKind.Record => "struct",
            CXTypeKind.Enum or CXTypeKind.CharS or CXTypeKind.CharU => "integer",
            CXTypeKind.SChar or CXTypeKind.Short or CXTypeKind.Int or CXTypeKind.Long or CXTypeKind.LongLong => "signed",
            CXTypeKind.UChar or CXTypeKind.UShort or CXTypeKind.UInt or CXTypeKind.ULong or CXTypeKind.ULongLong => "unsigned",
            var other => throw new Xunit.Sdk.XunitException($"{where}: C type {spelled} of kind {other} is not in the fixture's vocabulary"),
        };
        long cSize = cKind == "void" ? 0 : cKind == "pointer" ? 8 : LibClang.clang_Type_getSizeOf(k);
        string csKind = cs == typeof(void) ? "void"
            : cs.IsByRef || cs.IsPointer ? "pointer"
            : cs == typeof(float) || cs == typeof(double) ? "float"
            : cs == typeof(sbyte) || cs == typeof(short) || cs == typeof(int) || cs == typeof(long) || cs == typeof(nint) ? "signed"
            : cs == typeof(byte) || cs == typeof(ushort) || cs == typeof(uint) || cs == typeof(ulong) || cs == typeof(nuint) ? "unsigned"
            : cs.IsValueType && !cs.IsPrimitive && !cs.IsEnum ? "struct" : "other";
        long csSize = csKind == "void" ? 0 : csKind == "pointer" ? 8 : Marshal.SizeOf(cs);
        bool kindOk = cKind == csKind
            || (cKind == "pointer" && cs == typeof(nint))                      // handles and function pointers
            || (cKind == "integer" && csKind is "signed" or "unsigned");        // enums and plain char
        Assert.True(kindOk && cSize == csSize, $"{where}: C {spelled} ({cKind}, {cSize} bytes) is bound as {cs} ({csKind}, {csSize} bytes)");
    }

    [Fact]
    public void EnumValuesAndStructLayoutsEqualTheHeaders()
    {
        RequireLibClang();
        using var tu = ParseFixture();
        var cc = CompilerFacts(tu);
        int enumsChecked = 0, structsChecked = 0;
        foreach (var cursor in Distinct(tu, CXCursorKind.EnumDecl))
        {
            var type = NestedType(tu, cursor, tu.Enums);
            var integer = LibClang.clang_getCanonicalType(LibClang.clang_getEnumDeclIntegerType(cursor)).Kind;
            bool unsigned = integer is CXTypeKind.UInt or CXTypeKind.ULong or CXTypeKind.ULongLong;
            var constants = LibClang.Children(cursor).Where(m => m.Kind == CXCursorKind.EnumConstantDecl).ToList();
            var names = constants.Select(LibClang.Spelling).ToList();
            string prefix = BindingGenerator.CommonPrefix(names);
            Assert.Equal(constants.Count, Enum.GetNames(type).Length);
            foreach (var constant in constants)
            {
                string cName = LibClang.Spelling(constant);
                var field = type.GetField(BindingGenerator.MemberName(cName, prefix)) ?? throw new Xunit.Sdk.XunitException($"{type.Name} has no member for {cName}");
                object value = field.GetValue(null)!;
                if (unsigned)
                {
                    ulong expected = LibClang.clang_getEnumConstantDeclUnsignedValue(constant);
                    Assert.Equal(expected, Convert.ToUInt64(value));
                    if (cc is not null) Assert.Equal((long)expected, cc[$"enum {cName}"]);
                }
                else
                {
                    long expected = LibClang.clang_getEnumConstantDeclValue(constant);
                    Assert.Equal(expected, Convert.ToInt64(value));
                    if (cc is not null) Assert.Equal(expected, cc[$"enum {cName}"]);
                }
            }
            enumsChecked++;
        }
        foreach (var cursor in Distinct(tu, CXCursorKind.StructDecl))
        {
            var type = NestedType(tu, cursor, tu.Structs);
            long size = LibClang.clang_Type_getSizeOf(LibClang.clang_getCursorType(cursor));
            Assert.Equal(size, Marshal.SizeOf(type));
            Assert.Equal(size, (long)(int)type.GetField("NativeSize", Any)!.GetValue(null)!);
            string cName = CName(tu, cursor);
            if (cc is not null) Assert.Equal(size, cc[$"sizeof {cName}"]);
            foreach (var f in LibClang.Children(cursor).Where(f => f.Kind == CXCursorKind.FieldDecl))
            {
                string fName = LibClang.Spelling(f);
                long offset = LibClang.clang_Cursor_getOffsetOfField(f) / 8;
                string csName = char.ToUpperInvariant(fName[0]) + fName[1..];
                Assert.True(offset == (long)Marshal.OffsetOf(type, csName), $"{cName}.{fName}: offset {offset} in C, {Marshal.OffsetOf(type, csName)} in C#");
                if (cc is not null) Assert.Equal(offset, cc[$"offsetof {cName} {fName}"]);
            }
            structsChecked++;
        }
        Assert.Equal(3, enumsChecked);
        Assert.Equal(2, structsChecked);
    }

    // One cursor per definition (a tag and its typedef name the same one).
    private static List<CXCursor> Distinct(TranslationUnit tu, CXCursorKind kind)
    {
        var map = kind == CXCursorKind.EnumDecl ? tu.Enums : tu.Structs;
        var list = new List<CXCursor>();
        foreach (var (k, name) in tu.MainFileDeclarations.Where(d => d.Kind == kind))
            if (!list.Any(c => LibClang.clang_equalCursors(c, map[name]) != 0)) list.Add(map[name]);
        return list;
    }

    private static IEnumerable<string> NamesOf(TranslationUnit tu, CXCursor cursor, Dictionary<string, CXCursor> map) =>
        map.Where(e => LibClang.clang_equalCursors(e.Value, cursor) != 0).Select(e => e.Key);

    private static Type NestedType(TranslationUnit tu, CXCursor cursor, Dictionary<string, CXCursor> map) =>
        NamesOf(tu, cursor, map).Select(n => typeof(FixtureNative).GetNestedType(BindingGenerator.TypeName(n), Any)).FirstOrDefault(t => t is not null)
        ?? throw new Xunit.Sdk.XunitException($"no C# type for {string.Join("/", NamesOf(tu, cursor, map))}");

    // A name C code can use for the struct: its typedef, else "struct tag".
    private static string CName(TranslationUnit tu, CXCursor cursor)
    {
        return NamesOf(tu, cursor, tu.Structs).FirstOrDefault(tu.TypedefNames.Contains) ?? "struct " + LibClang.Spelling(cursor);
    }

    /// <summary>
    /// What a C compiler (not libclang) says about the fixture: every enum constant, struct size and field offset,
    /// printed by a probe program. Null when no compiler is on PATH (the clang checks still run).
    /// </summary>
    private static Dictionary<string, long>? CompilerFacts(TranslationUnit tu)
    {
        if (Support.NativeCompilers.C() is not { } compiler) return null;
        var probe = new System.Text.StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include \"fixture.h\"\nint main(void) {\n");
        foreach (var e in Distinct(tu, CXCursorKind.EnumDecl))
            foreach (var m in LibClang.Children(e).Where(m => m.Kind == CXCursorKind.EnumConstantDecl))
                probe.Append($"  printf(\"enum {LibClang.Spelling(m)} %lld\\n\", (long long){LibClang.Spelling(m)});\n");
        foreach (var s in Distinct(tu, CXCursorKind.StructDecl))
        {
            string name = CName(tu, s);
            probe.Append($"  printf(\"sizeof {name} %zu\\n\", sizeof({name}));\n");
            foreach (var f in LibClang.Children(s).Where(f => f.Kind == CXCursorKind.FieldDecl))
                probe.Append($"  printf(\"offsetof {name} {LibClang.Spelling(f)} %zu\\n\", offsetof({name}, {LibClang.Spelling(f)}));\n");
        }
        probe.Append("  return 0;\n}\n");
        string dir = Directory.CreateTempSubdirectory("cudann-bindgen-probe").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "probe.c"), probe.ToString());
            string exe = Path.Combine(dir, "probe");
            var (code, output) = Run(compiler, $"-std=c11 -I \"{FixtureDir}\" -o \"{exe}\" \"{Path.Combine(dir, "probe.c")}\"");
            Assert.True(code == 0, $"{compiler} could not build the fixture probe:\n{output}");
            (code, output) = Run(exe, "");
            Assert.Equal(0, code);
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .ToDictionary(l => l[..l.LastIndexOf(' ')], l => long.Parse(l[(l.LastIndexOf(' ') + 1)..]));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static (int, string) Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"{file} {args} took over a minute"); }
        return (p.ExitCode, stdout + stderr.Result);
    }

    [Theory]
    [InlineData("CU_DEVICE_ATTRIBUTE_WARP_SIZE", "CU_DEVICE_ATTRIBUTE_", "WarpSize")]
    [InlineData("CUBLAS_COMPUTE_32F_FAST_TF32", "CUBLAS_COMPUTE_", "Compute32FFastTf32")]
    [InlineData("CUDA_R_16BF", "CUDA_", "R16BF")]
    [InlineData("NVRTC_ERROR_COMPILATION", "NVRTC_", "ErrorCompilation")]
    public void EnumMemberNamesArePascalCaseWithoutThePrefix(string cName, string prefix, string expected) =>
        Assert.Equal(expected, BindingGenerator.MemberName(cName, prefix));

    [Fact]
    public void SpecAndHeaderErrorsNameTheFileAndTheDeclaration()
    {
        RequireLibClang();
        string dir = Directory.CreateTempSubdirectory("cudann-bindgen-errors").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "Cuda.Nn.sln"), "");
            File.WriteAllText(Path.Combine(dir, "h.h"), "typedef struct s_st *handle;\nint f(int x, handle *out_h);\nint g(int x, int y;\n");
            string Spec(string extra) =>
                $$"""{ "header": "h.h", "includes": ["repo:."], "namespace": "N", "class": "C", "libraryName": "l", "output": "o.g.cs", {{extra}} }""";
            string Fails(string json, bool generate = true)
            {
                string path = Path.Combine(dir, "spec.json");
                File.WriteAllText(path, json);
                var e = Assert.Throws<BindingGenException>(() =>
                {
                    var spec = BindingSpec.Load(path);
                    if (generate) BindingGenerator.Generate(spec, [dir]);
                });
                Assert.Contains(generate && !e.Message.Contains("h.h") ? path : "", e.Message);
                return e.Message;
            }
            Assert.Contains("unknownKey", Fails(Spec("\"functions\": [\"f\"], \"unknownKey\": 1"), generate: false));
            Assert.Contains("'bogus'", Fails(Spec("\"functions\": [\"f bogus\"]"), generate: false));
            // The header has a syntax error: clang's own message comes through.
            string parse = Fails(Spec("\"functions\": [\"f\"]"));
            Assert.Contains("h.h:3", parse);
            File.WriteAllText(Path.Combine(dir, "h.h"), "typedef struct s_st *handle;\nint f(int x, handle *out_h);\n");
            Assert.Contains("no function named nope", Fails(Spec("\"functions\": [\"nope\"]")));
            Assert.Contains("out:x needs a pointer", Fails(Spec("\"functions\": [\"f out:x\"]")));
            Assert.Contains("has no parameter named y", Fails(Spec("\"functions\": [\"f out:y\"]")));
            Assert.Contains("x=ulong may only replace a pointer", Fails(Spec("\"functions\": [\"f x=ulong\"]")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
