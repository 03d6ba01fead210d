using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Tora.Models.Checkpoints;

/// <summary>
/// A checkpoint file mapped read-only, with its base address held for the mapping's lifetime, so that tensor bytes
/// are read straight from the page cache and the file is never loaded whole (safetensors and torch zip alike).
/// </summary>
internal sealed unsafe partial class MappedFile : IDisposable
{
    private const int MadvDontNeed = 4;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;

    private MappedFile(MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        Base = p + _view.PointerOffset;
    }

    /// <summary>The first byte of the file.</summary>
    public byte* Base { get; }

    /// <summary>Maps <paramref name="path"/> read-only.</summary>
    public static MappedFile Open(string path)
    {
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            return new MappedFile(map, map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read));
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Drops the pages of <paramref name="count"/> bytes at <paramref name="offset"/> from this process's resident set
    /// once converted (they stay in the page cache). Without it, streaming a checkpoint of many GB through the mapping
    /// would count every touched page in the converter's RSS; with it the converter stays within its memory budget.
    /// </summary>
    public void DontNeed(long offset, long count)
    {
        if (!OperatingSystem.IsLinux() || count <= 0) return;
        long page = Environment.SystemPageSize;
        long start = (long)(Base + offset);
        long alignedStart = start / page * page;
        _ = Madvise((nint)alignedStart, (nuint)(start + count - alignedStart), MadvDontNeed);
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);

    /// <inheritdoc />
    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
