// Model weights from either format users bring: safetensors, or a PyTorch .pth/.pt zip from torch.save.
// The format is told by content (the zip signature), not by extension: .bin, .pt and .pth all occur for both.
namespace Cuda.Nn.IO;

public static class StateDictFile
{
    /// <summary>Reads every tensor of a safetensors or torch.save file into new CPU tensors (the caller disposes them).</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"weights file not found: {path}", path);
        Span<byte> head = stackalloc byte[4];
        using (var fs = File.OpenRead(path)) head = head[..fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        return PthFile.LooksLikeTorchFile(head) ? PthFile.Load(path) : TensorFile.Load(path);
    }
}
