using System.Buffers;
using System.IO.Compression;
using System.Text;
using Tora.Models.Graph;

namespace Tora.Models.Checkpoints.Sat;

/// <summary>
/// Writes a state dict as <c>torch.save</c> does: a zip (Zip64 when large) of stored members
/// <c>archive/data.pkl</c> (pickle protocol 2: <c>{key: OrderedDict(name → _rebuild_tensor_v2(...))}</c>),
/// <c>archive/data/&lt;n&gt;</c> (one storage per tensor, or shared by aliases) and <c>archive/version</c>. Values
/// are generated tensor by tensor while writing, so real-size random SAT checkpoints need little memory.
/// Used by <c>tora model random --layout sat</c> and by tests.
/// </summary>
public sealed class TorchCheckpointWriter
{
    private readonly List<Item> _items = [];
    private readonly List<Storage> _storages = [];

    private sealed record Storage(int Key, ElementType Type, long Numel, Action<Span<float>>? Fill, long[]? Ints);

    private sealed record Item(string Name, Storage Storage, long Offset, long[] Shape, long[]? Stride = null);

    /// <summary>Adds a float tensor with its own storage; <paramref name="fill"/> writes its float32 values (encoded to <paramref name="type"/>).</summary>
    public void Add(string name, ElementType type, long[] shape, Action<Span<float>> fill)
    {
        var s = new Storage(_storages.Count, type, shape.Aggregate(1L, (a, b) => a * b), fill, null);
        _storages.Add(s);
        _items.Add(new Item(name, s, 0, shape));
    }

    /// <summary>Adds an int64 tensor (BatchNorm counters).</summary>
    public void AddInt64(string name, long[] shape, long[] values)
    {
        var s = new Storage(_storages.Count, ElementType.Int64, values.Length, null, values);
        _storages.Add(s);
        _items.Add(new Item(name, s, 0, shape));
    }

    /// <summary>Adds <paramref name="name"/> as a second name for the storage of <paramref name="existing"/> (a tied weight).</summary>
    public void AddAlias(string name, string existing)
    {
        var e = _items.First(i => i.Name == existing);
        _items.Add(e with { Name = name });
    }

    /// <summary>
    /// Adds <paramref name="name"/> as a view into the storage of <paramref name="existing"/> at element
    /// <paramref name="offset"/> with its own shape and stride (as DeepSpeed's flattened parameter groups, or
    /// a transposed view when <paramref name="stride"/> is not row-major).
    /// </summary>
    public void AddView(string name, string existing, long offset, long[] shape, long[] stride)
    {
        var e = _items.First(i => i.Name == existing);
        _items.Add(new Item(name, e.Storage, offset, shape, stride));
    }

    /// <summary>Writes the file.</summary>
    /// <param name="path">Output file.</param>
    /// <param name="topKey">Top-level key holding the state dict (<c>module</c> for SAT engines, <c>state_dict</c> for the VAE).</param>
    /// <param name="extraGlobal">Test hook: an extra top-level entry <c>args = module.name()</c> (to check that readers refuse it).</param>
    public void Write(string path, string topKey, string? extraGlobal = null)
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        string folder = "archive";
        using (var s = zip.CreateEntry($"{folder}/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(Pickle(topKey, extraGlobal));
        const int chunk = 1 << 20;
        var bytes = ArrayPool<byte>.Shared.Rent(chunk * 8);
        try
        {
            foreach (var storage in _storages)
            {
                using var s = zip.CreateEntry($"{folder}/data/{storage.Key}", CompressionLevel.NoCompression).Open();
                if (storage.Ints is { } ints)
                {
                    foreach (var v in ints) s.Write(BitConverter.GetBytes(v));
                    continue;
                }
                // One tensor's values at a time (the largest, T5's embedding, is 0.5 GB as float32).
                var values = new float[storage.Numel];
                storage.Fill!(values);
                int size = storage.Type.Size();
                for (long i = 0; i < values.Length; i += chunk)
                {
                    int len = (int)Math.Min(chunk, values.Length - i);
                    ElementTypes.EncodeFromFloat(values.AsSpan((int)i, len), storage.Type, bytes);
                    s.Write(bytes, 0, len * size);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
        using (var s = zip.CreateEntry($"{folder}/version", CompressionLevel.NoCompression).Open()) s.Write("3\n"u8);
    }

    private byte[] Pickle(string topKey, string? extraGlobal)
    {
        var p = new MemoryStream();
        void Op(params byte[] b) => p.Write(b);
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); Op((byte)'X'); p.Write(BitConverter.GetBytes(b.Length)); p.Write(b); }
        void Int(long v)
        {
            if (v is >= int.MinValue and <= int.MaxValue) { Op((byte)'J'); p.Write(BitConverter.GetBytes((int)v)); }
            else { Op(0x8a, 8); p.Write(BitConverter.GetBytes(v)); } // LONG1, 8 bytes little-endian two's complement
        }
        void Global(string module, string name) => p.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
        void Tuple(long[] v) { Op((byte)'('); foreach (var x in v) Int(x); Op((byte)'t'); }
        Op(0x80, 2, (byte)'}');
        if (extraGlobal is not null)
        {
            Str("args");
            int dot = extraGlobal.LastIndexOf('.');
            Global(extraGlobal[..dot], extraGlobal[(dot + 1)..]);
            Op((byte)')', (byte)'R', (byte)'s');
        }
        Str(topKey);
        Global("collections", "OrderedDict");
        Op((byte)')', (byte)'R');
        for (int start = 0; start < _items.Count; start += 1000)
        {
            Op((byte)'(');
            foreach (var item in _items.Skip(start).Take(1000))
            {
                Str(item.Name);
                Global("torch._utils", "_rebuild_tensor_v2");
                Op((byte)'(', (byte)'(');
                Str("storage");
                Global("torch", item.Storage.Type switch
                {
                    ElementType.BFloat16 => "BFloat16Storage", ElementType.Float16 => "HalfStorage", ElementType.Int64 => "LongStorage", _ => "FloatStorage",
                });
                Str(item.Storage.Key.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Str("cpu");
                Int(item.Storage.Numel);
                Op((byte)'t', (byte)'Q');
                Int(item.Offset);
                Tuple(item.Shape);
                var stride = item.Stride ?? new long[item.Shape.Length];
                long s = 1;
                if (item.Stride is null)
                    for (int d = item.Shape.Length - 1; d >= 0; d--) { stride[d] = s; s *= item.Shape[d]; }
                Tuple(stride);
                Op(0x89); // requires_grad False
                Global("collections", "OrderedDict");
                Op((byte)')', (byte)'R', (byte)'t', (byte)'R');
            }
            Op((byte)'u');
        }
        Op((byte)'s', (byte)'.');
        return p.ToArray();
    }
}
