// Files that are not regular files, for tests of what refuses them: named pipes, and their type read without opening.
using System.Diagnostics;

namespace Cuda.Nn.Tests;

internal static class SpecialFiles
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int mkfifo(string path, uint mode);

    /// <summary>Makes a named pipe (Linux); 0 on success.</summary>
    public static int MakeFifo(string path) => mkfifo(path, 0x1B6);

    /// <summary>The file type as stat(1) names it ("fifo", "regular file", "symbolic link"), without opening the
    /// file: reading a pipe would block.</summary>
    public static string TypeOf(string path)
    {
        var psi = new ProcessStartInfo("stat", ["-c", "%F", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var type = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return type;
    }
}
