// The one way the project writes an output file. The bytes go to a temp file in the target's folder, are flushed
// to disk, renamed over the target, and the folder itself is flushed, so a kill or power loss at any moment leaves
// either the old file or the new one, never a mix. A target that exists and is not a regular file (a device, a
// folder, a pipe, or a link to one) is refused, since renaming over it would silently replace it. Every error names
// the user's target, not the temp file.
using System.Runtime.InteropServices;

namespace Cuda.Nn.IO;

public static partial class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string target = CheckTarget(path);
        var dir = Path.GetDirectoryName(target)!;
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{path}: cannot create its folder {dir} ({e.Message})", e);
        }
        var tmp = Path.Combine(dir, $".{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(FaultInjection.Active ? new FaultInjection.WriteStream(fs, Path.GetFileName(target)) : fs);
                FaultInjection.Hit("write:" + Path.GetFileName(target));
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, target, overwrite: true);
            FlushFolder(dir);
        }
        catch (Exception e)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException)
                throw new IOException($"{path}: cannot write ({Reason(e, tmp, dir)}); {(File.Exists(target) ? "the previous file is kept" : "nothing was written")}", e);
            throw;
        }
    }

    /// <summary>Checks, before a command does its work, that the file <paramref name="path"/> can be written: it is
    /// not a folder, device or pipe, and its folder can take it (see <see cref="PreflightFolder"/>). Creates nothing
    /// that stays. Errors start with <paramref name="option"/>.</summary>
    public static void Preflight(string path, string option)
    {
        string target;
        try { target = CheckTarget(path); }
        catch (IOException e) { throw new IOException($"{option} {e.Message}", e); }
        PreflightFolder(Path.GetDirectoryName(target)!, option, path);
    }

    /// <summary>Checks that files can be written into the folder <paramref name="dir"/>: it is a folder (or does not
    /// exist yet), and it, or the nearest folder above it that exists, accepts a new file.</summary>
    public static void PreflightFolder(string dir, string option, string? shown = null)
    {
        shown ??= dir;
        var existing = Path.GetFullPath(dir);
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new IOException($"{option} {shown}: {existing} is a file, not a folder");
            existing = Path.GetDirectoryName(existing) ?? throw new IOException($"{option} {shown}: no folder of it exists");
        }
        var probe = Path.Combine(existing, $".cudann-probe.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try { using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { } }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option} {shown}: cannot write there ({Reason(e, probe, existing)})", e);
        }
    }

    /// <summary>Why a file could not be created or written, in the user's terms (never the temp file's name).</summary>
    private static string Reason(Exception e, string tmp, string dir) => e switch
    {
        UnauthorizedAccessException => $"permission denied in {dir}",
        FileNotFoundException or DirectoryNotFoundException when Directory.Exists(dir) => $"{dir} does not accept new files",
        _ => e.Message.Replace(tmp, "its temp file", StringComparison.Ordinal),
    };

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { var b = System.Text.Encoding.UTF8.GetBytes(text); s.Write(b); });

    /// <summary>The path to write: the target itself, or the file a link points at. Refuses a target that exists
    /// and is not a regular file.</summary>
    public static string CheckTarget(string path)
    {
        var full = Path.GetFullPath(path);
        var info = new FileInfo(full);
        if (Directory.Exists(full) && info.LinkTarget is null) throw new IOException($"{path}: is a folder, not a file: give a file name");
        if (info.LinkTarget is not null)
        {
            var final = info.ResolveLinkTarget(returnFinalTarget: true);
            if (final is DirectoryInfo || (final is not null && Directory.Exists(final.FullName))) throw new IOException($"{path}: is a link to a folder ({info.LinkTarget}), not a file");
            if (final is null || !final.Exists) return full; // a dangling link: the link is replaced by the new file
            full = final.FullName;
            info = new FileInfo(full);
        }
        if (info.Exists && !IsRegular(full))
            throw new IOException($"{path}: exists and is not a regular file (a device, pipe or socket): refusing to replace it");
        return full;
    }

    /// <summary>Whether an existing path (links followed) is a regular file. .NET reports FIFOs, sockets and
    /// devices as plain zero-length files, so the type comes from statx, whose layout is the same on every Linux
    /// architecture (stx_mode: a u16 at offset 28).</summary>
    private static unsafe bool IsRegular(string path)
    {
        if (!OperatingSystem.IsLinux()) return true;
        byte* buf = stackalloc byte[256];
        if (Statx(-100 /* AT_FDCWD */, path, 0, 1 /* STATX_TYPE */, buf) != 0) return true; // let the write report it
        return (*(ushort*)(buf + 28) & 0xF000) == 0x8000; // S_IFREG
    }

    /// <summary>fsync of the folder, so the rename itself survives a power loss (POSIX; elsewhere a no-op).</summary>
    private static void FlushFolder(string dir)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = Open(dir, 0 /* O_RDONLY */);
        if (fd < 0) return;
        try { _ = Fsync(fd); } finally { _ = Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
