using System.Text;
using System.Text.Json;
using Tora.Models.Graph;

namespace Tora.Models.Checkpoints;

/// <summary>
/// Writes safetensors files (tests, and <c>tora model random</c>). Tensors are declared first with a
/// producer of their float values; <see cref="Write"/> writes the header and then produces and encodes one
/// tensor at a time, so a multi-GB file never sits in memory.
/// </summary>
public sealed class SafetensorsWriter
{
    private readonly List<(string Name, ElementType Type, long[] Shape, Action<Span<float>> Fill)> _tensors = [];
    private readonly List<(string Name, long[] Shape, long[] Values)> _integers = [];

    /// <summary>Declares a tensor whose values <paramref name="fill"/> writes into a float32 span of its element count.</summary>
    public SafetensorsWriter Add(string name, ElementType type, long[] shape, Action<Span<float>> fill)
    {
        if (!type.IsFloat()) throw new ArgumentException("only float tensors", nameof(type));
        if (_tensors.Any(t => t.Name == name) || _integers.Any(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' declared twice", nameof(name));
        _tensors.Add((name, type, shape, fill));
        return this;
    }

    /// <summary>Declares an int64 tensor (BatchNorm <c>num_batches_tracked</c>).</summary>
    public SafetensorsWriter AddInt64(string name, long[] shape, long[] values)
    {
        if (_tensors.Any(t => t.Name == name) || _integers.Any(t => t.Name == name)) throw new ArgumentException($"tensor '{name}' declared twice", nameof(name));
        _integers.Add((name, shape, values));
        return this;
    }

    /// <summary>Declares a tensor with known values.</summary>
    public SafetensorsWriter Add(string name, ElementType type, long[] shape, float[] values) =>
        Add(name, type, shape, s => values.CopyTo(s));

    /// <summary>Number of declared tensors.</summary>
    public int Count => _tensors.Count + _integers.Count;

    /// <summary>Total data bytes.</summary>
    public long DataBytes => _tensors.Sum(t => Numel(t.Shape) * t.Type.Size());

    /// <summary>Writes the file.</summary>
    public void Write(string path)
    {
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var t in _tensors)
        {
            long bytes = Numel(t.Shape) * t.Type.Size();
            header[t.Name] = new Dictionary<string, object>
            {
                ["dtype"] = t.Type switch { ElementType.Float32 => "F32", ElementType.Float16 => "F16", _ => "BF16" },
                ["shape"] = t.Shape,
                ["data_offsets"] = new[] { offset, offset + bytes },
            };
            offset += bytes;
        }
        foreach (var t in _integers)
        {
            long bytes = t.Values.LongLength * 8;
            header[t.Name] = new Dictionary<string, object> { ["dtype"] = "I64", ["shape"] = t.Shape, ["data_offsets"] = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8; // data section 8-byte aligned, as the reference writer does
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        fs.Write(BitConverter.GetBytes((long)(json.Length + pad)));
        fs.Write(json);
        for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
        foreach (var t in _tensors)
        {
            int n = checked((int)Numel(t.Shape));
            var floats = System.Buffers.ArrayPool<float>.Shared.Rent(n);
            var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent(n * t.Type.Size());
            try
            {
                t.Fill(floats.AsSpan(0, n));
                ElementTypes.EncodeFromFloat(floats.AsSpan(0, n), t.Type, bytes);
                fs.Write(bytes, 0, n * t.Type.Size());
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(bytes);
                System.Buffers.ArrayPool<float>.Shared.Return(floats);
            }
        }
        foreach (var t in _integers)
            fs.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Values.AsSpan()));
    }

    private static long Numel(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);
}
