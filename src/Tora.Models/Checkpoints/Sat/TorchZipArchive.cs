using System.Buffers.Binary;
using System.Text;

namespace Tora.Models.Checkpoints.Sat;

/// <summary>One member of a torch zip checkpoint: where its (stored, uncompressed) bytes start in the file.</summary>
/// <param name="Name">Member name, e.g. <c>archive/data/0</c>.</param>
/// <param name="DataOffset">File offset of the first data byte (after the local file header).</param>
/// <param name="Length">Data length in bytes.</param>
public sealed record TorchZipEntry(string Name, long DataOffset, long Length);

/// <summary>
/// The zip container of a <c>torch.save</c> file (<c>&lt;folder&gt;/data.pkl</c>, <c>&lt;folder&gt;/data/&lt;key&gt;</c>),
/// memory-mapped. Only the central directory is parsed (Zip64 included: the real SAT files are 22 GB); every
/// member must be stored uncompressed, as torch writes them, so tensor bytes are read straight from the
/// mapping and the file is never loaded whole.
/// </summary>
public sealed unsafe class TorchZipArchive : IDisposable
{
    private readonly MappedFile _file;
    private readonly byte* _base;
    private readonly Dictionary<string, TorchZipEntry> _entries;

    private TorchZipArchive(string path, long length, MappedFile file, Dictionary<string, TorchZipEntry> entries, string folder)
    {
        Path = path;
        Length = length;
        _file = file;
        _base = file.Base;
        _entries = entries;
        Folder = folder;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>File size in bytes.</summary>
    public long Length { get; }

    /// <summary>The record folder (<c>archive</c>, or the file's stem for <c>torch.save(obj, path)</c>), taken from the member ending in <c>/data.pkl</c>.</summary>
    public string Folder { get; }

    /// <summary>Members by name.</summary>
    public IReadOnlyDictionary<string, TorchZipEntry> Entries => _entries;

    /// <summary>Opens and indexes a torch zip checkpoint.</summary>
    /// <exception cref="InvalidDataException">Not a zip, truncated, compressed members, or no <c>data.pkl</c>.</exception>
    public static TorchZipArchive Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        long length;
        // The opened file's length: FileInfo reports a symbolic link's own size.
        using (var fs = File.OpenRead(path)) length = fs.Length;
        if (length < 22) throw new InvalidDataException($"{path}: truncated or not a torch zip checkpoint ({length} bytes)");
        var file = MappedFile.Open(path);
        try
        {
            var (entries, folder) = ReadDirectory(path, new ReadOnlyFile(file.Base, length));
            return new TorchZipArchive(path, length, file, entries, folder);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The member <c>&lt;folder&gt;/&lt;relative&gt;</c>, or null.</summary>
    public TorchZipEntry? Find(string relative) => _entries.GetValueOrDefault($"{Folder}/{relative}");

    /// <summary>A byte range of a member, straight from the mapping (valid until disposal).</summary>
    public ReadOnlySpan<byte> Bytes(TorchZipEntry entry, long offset, int count)
    {
        if (offset < 0 || count < 0 || offset + count > entry.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{entry.Name}: range {offset}+{count} outside {entry.Length} bytes");
        return new ReadOnlySpan<byte>(_base + entry.DataOffset + offset, count);
    }

    /// <summary>
    /// Drops a range's pages from this process's resident set after conversion (they stay in the page cache),
    /// as <see cref="SafetensorsFile.Release"/>: keeps a 22 GB import within the converter's memory budget.
    /// </summary>
    public void Release(TorchZipEntry entry, long offset, long count) => _file.DontNeed(entry.DataOffset + offset, count);

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    private readonly struct ReadOnlyFile(byte* data, long length)
    {
        public long Length => length;

        public ReadOnlySpan<byte> At(long offset, int count, string path, string what) =>
            offset >= 0 && count >= 0 && offset + count <= length
                ? new ReadOnlySpan<byte>(data + offset, count)
                : throw new InvalidDataException($"{path}: truncated zip ({what} at byte {offset} lies past the end of the {length}-byte file)");
    }

    private static (Dictionary<string, TorchZipEntry>, string) ReadDirectory(string path, ReadOnlyFile file)
    {
        // End of central directory: the last 22 + comment (≤ 65535) bytes.
        long searchStart = Math.Max(0, file.Length - 22 - 65535);
        var tail = file.At(searchStart, (int)(file.Length - searchStart), path, "end record");
        int eocd = -1;
        for (int i = tail.Length - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail[i..]) == 0x06054b50) { eocd = i; break; }
        if (eocd < 0) throw new InvalidDataException($"{path}: truncated or not a torch zip checkpoint (no end-of-central-directory record)");
        long eocdOffset = searchStart + eocd;
        var e = tail[eocd..];
        long count = BinaryPrimitives.ReadUInt16LittleEndian(e[10..]);
        long cdSize = BinaryPrimitives.ReadUInt32LittleEndian(e[12..]);
        long cdOffset = BinaryPrimitives.ReadUInt32LittleEndian(e[16..]);
        if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF)
        {
            // Zip64: the locator sits just before the end record and points at the Zip64 end record.
            var locator = file.At(eocdOffset - 20, 20, path, "Zip64 locator");
            if (BinaryPrimitives.ReadUInt32LittleEndian(locator) != 0x07064b50)
                throw new InvalidDataException($"{path}: truncated zip (Zip64 locator missing)");
            long z = (long)BinaryPrimitives.ReadUInt64LittleEndian(locator[8..]);
            var z64 = file.At(z, 56, path, "Zip64 end record");
            if (BinaryPrimitives.ReadUInt32LittleEndian(z64) != 0x06064b50)
                throw new InvalidDataException($"{path}: truncated zip (bad Zip64 end record)");
            count = (long)BinaryPrimitives.ReadUInt64LittleEndian(z64[32..]);
            cdSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(z64[40..]);
            cdOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(z64[48..]);
        }
        if (cdSize > int.MaxValue) throw new InvalidDataException($"{path}: zip central directory too large ({cdSize} bytes)");
        var cd = file.At(cdOffset, (int)cdSize, path, "central directory");
        var entries = new Dictionary<string, TorchZipEntry>(StringComparer.Ordinal);
        int pos = 0;
        for (long n = 0; n < count; n++)
        {
            if (pos + 46 > cd.Length || BinaryPrimitives.ReadUInt32LittleEndian(cd[pos..]) != 0x02014b50)
                throw new InvalidDataException($"{path}: corrupt zip central directory (entry {n})");
            int method = BinaryPrimitives.ReadUInt16LittleEndian(cd[(pos + 10)..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(cd[(pos + 20)..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(cd[(pos + 24)..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(cd[(pos + 28)..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(cd[(pos + 30)..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(cd[(pos + 32)..]);
            long local = BinaryPrimitives.ReadUInt32LittleEndian(cd[(pos + 42)..]);
            if (pos + 46 + nameLength + extraLength > cd.Length) throw new InvalidDataException($"{path}: corrupt zip central directory (entry {n})");
            string name = Encoding.UTF8.GetString(cd.Slice(pos + 46, nameLength));
            var extra = cd.Slice(pos + 46 + nameLength, extraLength);
            // Zip64 extended information: the fields whose 32-bit value is 0xFFFFFFFF, in this order.
            for (int x = 0; x + 4 <= extra.Length;)
            {
                int id = BinaryPrimitives.ReadUInt16LittleEndian(extra[x..]);
                int len = BinaryPrimitives.ReadUInt16LittleEndian(extra[(x + 2)..]);
                if (id == 0x0001)
                {
                    var f = extra.Slice(x + 4, Math.Min(len, extra.Length - x - 4));
                    int o = 0;
                    if (size == 0xFFFFFFFF && o + 8 <= f.Length) { size = (long)BinaryPrimitives.ReadUInt64LittleEndian(f[o..]); o += 8; }
                    if (compressed == 0xFFFFFFFF && o + 8 <= f.Length) { compressed = (long)BinaryPrimitives.ReadUInt64LittleEndian(f[o..]); o += 8; }
                    if (local == 0xFFFFFFFF && o + 8 <= f.Length) local = (long)BinaryPrimitives.ReadUInt64LittleEndian(f[o..]);
                }
                x += 4 + len;
            }
            pos += 46 + nameLength + extraLength + commentLength;
            if (method != 0 || compressed != size)
                throw new InvalidDataException($"{path}: zip member '{name}' is compressed (method {method}); torch checkpoints store members uncompressed");
            var header = file.At(local, 30, path, $"local header of '{name}'");
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != 0x04034b50)
                throw new InvalidDataException($"{path}: corrupt zip (no local header for '{name}')");
            long dataOffset = local + 30 + BinaryPrimitives.ReadUInt16LittleEndian(header[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
            if (dataOffset + size > file.Length)
                throw new InvalidDataException($"{path}: truncated zip (member '{name}' needs bytes up to {dataOffset + size}, the file has {file.Length})");
            entries[name] = new TorchZipEntry(name, dataOffset, size);
        }
        var pickles = entries.Keys.Where(k => k.EndsWith("/data.pkl", StringComparison.Ordinal) && k.Count(c => c == '/') == 1).ToList();
        if (pickles.Count != 1)
            throw new InvalidDataException($"{path}: not a torch checkpoint ({(pickles.Count == 0 ? "no" : "more than one")} <folder>/data.pkl member)");
        return (entries, pickles[0][..^"/data.pkl".Length]);
    }
}
