using System.Text.Json;
using Tora.Models.Graph;

namespace Tora.Models.Checkpoints;

/// <summary>Where one tensor lies in a safetensors file.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="DType">safetensors dtype string (F32, F16, BF16, I64, ...).</param>
/// <param name="Shape">Shape.</param>
/// <param name="Begin">Byte offset of the data, relative to the start of the data section.</param>
/// <param name="End">End offset (exclusive), relative to the start of the data section.</param>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The element type, or null for dtypes the compiler does not read as weights (I64 counters, ...).</summary>
    public ElementType? ElementType => CheckpointDType.ElementTypeOf(DType);
}

/// <summary>The safetensors dtype names (also used for torch checkpoints' storages) the compiler reads as weights.</summary>
public static class CheckpointDType
{
    /// <summary>The element type of <paramref name="dtype"/> (F32, F16, BF16, I64, I32), or null for any other (F64, BOOL, ...).</summary>
    public static ElementType? ElementTypeOf(string dtype) => dtype switch
    {
        "F32" => Graph.ElementType.Float32,
        "F16" => Graph.ElementType.Float16,
        "BF16" => Graph.ElementType.BFloat16,
        "I64" => Graph.ElementType.Int64,
        "I32" => Graph.ElementType.Int32,
        _ => null,
    };
}

/// <summary>
/// One memory-mapped <c>.safetensors</c> file (8-byte little-endian header length, JSON header, raw
/// little-endian data). Tensor data is read straight from the mapping, so opening a 10 GB shard costs
/// only its header.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MappedFile _file;
    private readonly byte* _base;
    private readonly long _dataStart;

    private SafetensorsFile(string path, MappedFile file, long dataStart, Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _file = file;
        _base = file.Base;
        _dataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
    }

    /// <summary>The file path.</summary>
    public string Path { get; }

    /// <summary>Tensors by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> strings.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    public static SafetensorsFile Open(string path)
    {
        long length, headerLength;
        byte[] header;
        using (var fs = File.OpenRead(path))
        {
            // The opened file's length, not FileInfo's: a symbolic link (as in Hugging Face's cache) reports its own.
            length = fs.Length;
            if (length < 8) throw new InvalidDataException($"{path}: too short for a safetensors file");
            Span<byte> len = stackalloc byte[8];
            fs.ReadExactly(len);
            headerLength = BitConverter.ToInt64(len);
            if (headerLength <= 0 || headerLength > 100_000_000 || 8 + headerLength > length)
                throw new InvalidDataException($"{path}: bad safetensors header length {headerLength}");
            header = new byte[headerLength];
            fs.ReadExactly(header);
        }
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        long dataLength = length - 8 - headerLength;
        try
        {
            using var doc = JsonDocument.Parse(header);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    foreach (var m in prop.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var dtype = prop.Value.GetProperty("dtype").GetString() ?? "";
                var shape = prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var entry = new SafetensorsEntry(prop.Name, dtype, shape, offsets[0], offsets[1]);
                if (offsets.Length != 2 || entry.Begin < 0 || entry.End < entry.Begin || entry.End > dataLength)
                    throw new InvalidDataException($"{path}: tensor '{prop.Name}' has data offsets outside the file");
                if (entry.ElementType is { } et && entry.ElementCount * et.Size() != entry.End - entry.Begin)
                    throw new InvalidDataException($"{path}: tensor '{prop.Name}' has {entry.End - entry.Begin} bytes for shape [{string.Join(", ", shape)}] {dtype}");
                entries[prop.Name] = entry;
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: unreadable safetensors header ({e.Message})", e);
        }
        return new SafetensorsFile(path, MappedFile.Open(path), 8 + headerLength, entries, metadata);
    }

    /// <summary>The raw bytes of a tensor, straight from the mapping (valid until disposal).</summary>
    public ReadOnlySpan<byte> Bytes(SafetensorsEntry entry)
    {
        long n = entry.End - entry.Begin;
        if (n > int.MaxValue) throw new NotSupportedException($"tensor '{entry.Name}' is over 2 GB; read it in ranges");
        return new ReadOnlySpan<byte>(_base + _dataStart + entry.Begin, (int)n);
    }

    /// <summary>A byte range of a tensor's data.</summary>
    public ReadOnlySpan<byte> Bytes(SafetensorsEntry entry, long offset, int count) =>
        new(_base + _dataStart + entry.Begin + offset, count);

    /// <summary>
    /// Drops a tensor's pages from this process's resident set once it has been converted (the data stays in
    /// the page cache). Without this, streaming a 12 GB checkpoint through the mapping would count every
    /// touched page in the converter's RSS; with it the converter stays within its 3 GB budget.
    /// </summary>
    public void Release(SafetensorsEntry entry) => _file.DontNeed(_dataStart + entry.Begin, entry.End - entry.Begin);

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}
