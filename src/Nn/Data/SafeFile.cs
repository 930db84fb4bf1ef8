// Reading a whole data file without trusting what the path points at: links are resolved first, and only a
// regular file with a known size is opened, then read up to that size. A named pipe (open would block), a
// device such as /dev/zero (endless) or a broken link is refused with an InvalidDataException naming the path.
namespace Cuda.Nn.Data;

public static class SafeFile
{
    /// <summary>The whole file, at most maxBytes; "PATH: problem" errors (FileNotFoundException when it does not exist).</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what = "file")
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists && info.LinkTarget is null) throw new FileNotFoundException($"{path}: {what} not found", path);
            var target = info.LinkTarget is null ? info : info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
            if (target is null || !target.Exists) throw new InvalidDataException($"{path}: a link to a missing file ({info.LinkTarget})");
            long length = target.Length;
            if (length == 0) throw new InvalidDataException($"{path}: empty file (0 bytes), or not a regular file (a pipe or a device)");
            if (length > Math.Min(maxBytes, Array.MaxLength)) throw new InvalidDataException($"{path}: {length} bytes exceeds the {what} size limit of {Math.Min(maxBytes, Array.MaxLength)}");
            using var fs = new FileStream(target.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var bytes = new byte[length];
            int n = 0, r;
            while (n < bytes.Length && (r = fs.Read(bytes, n, bytes.Length - n)) > 0) n += r;
            return n == bytes.Length ? bytes : bytes[..n];
        }
        catch (FileNotFoundException) { throw; }
        catch (DirectoryNotFoundException e) { throw new FileNotFoundException($"{path}: {what} not found", path, e); }
        catch (IOException e) when (e is not FileNotFoundException) { throw new InvalidDataException($"{path}: cannot read the {what} ({e.Message})", e); }
        catch (UnauthorizedAccessException e) { throw new InvalidDataException($"{path}: permission denied ({e.Message})", e); }
    }
}
