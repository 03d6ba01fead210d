using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace Tora.Motion.IO;

/// <summary>
/// An n-dimensional array in NumPy's <c>.npy</c> format (version 1.0/2.0, little-endian, C order): the
/// exchange format of reference files, noise recordings and <c>--out-npy</c> outputs.
/// </summary>
public sealed class NpyArray
{
    /// <summary>Creates an array from raw little-endian element bytes.</summary>
    public NpyArray(string dtype, int[] shape, byte[] data)
    {
        ElementSize = SizeOf(dtype);
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension {d}", nameof(shape));
            count *= d;
        }
        if (count * ElementSize != data.LongLength)
            throw new ArgumentException($"{data.LongLength} bytes do not hold {count} elements of {dtype}", nameof(data));
        DType = dtype;
        Shape = shape;
        Data = data;
    }

    /// <summary>NumPy type string without byte order, e.g. <c>f4</c>, <c>u1</c>, <c>i8</c>.</summary>
    public string DType { get; }

    /// <summary>Dimensions in C order.</summary>
    public int[] Shape { get; }

    /// <summary>Element bytes, little-endian, C order.</summary>
    public byte[] Data { get; }

    /// <summary>Bytes per element.</summary>
    public int ElementSize { get; }

    /// <summary>Number of elements.</summary>
    public long Length => Data.LongLength / ElementSize;

    /// <summary>Wraps float32 values.</summary>
    public static NpyArray FromFloats(ReadOnlySpan<float> values, params int[] shape) =>
        new("f4", shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Wraps float64 values.</summary>
    public static NpyArray FromDoubles(ReadOnlySpan<double> values, params int[] shape) =>
        new("f8", shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>Wraps bytes as uint8.</summary>
    public static NpyArray FromBytes(ReadOnlySpan<byte> values, params int[] shape) => new("u1", shape, values.ToArray());

    /// <summary>Wraps int64 values.</summary>
    public static NpyArray FromInt64s(ReadOnlySpan<long> values, params int[] shape) =>
        new("i8", shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>The values converted to float32 (from any numeric dtype).</summary>
    public float[] ToFloats()
    {
        if (DType == "f4") return MemoryMarshal.Cast<byte, float>(Data).ToArray();
        var d = ToDoubles();
        var f = new float[d.Length];
        for (int i = 0; i < d.Length; i++) f[i] = (float)d[i];
        return f;
    }

    /// <summary>The values converted to float64 (from any numeric dtype).</summary>
    public double[] ToDoubles()
    {
        var n = checked((int)Length);
        var r = new double[n];
        ReadOnlySpan<byte> b = Data;
        for (int i = 0; i < n; i++)
        {
            var e = b.Slice(i * ElementSize, ElementSize);
            r[i] = DType switch
            {
                "f4" => BinaryPrimitives.ReadSingleLittleEndian(e),
                "f8" => BinaryPrimitives.ReadDoubleLittleEndian(e),
                "f2" => (double)BinaryPrimitives.ReadHalfLittleEndian(e),
                "u1" => e[0],
                "i1" => (sbyte)e[0],
                "b1" => e[0],
                "i2" => BinaryPrimitives.ReadInt16LittleEndian(e),
                "u2" => BinaryPrimitives.ReadUInt16LittleEndian(e),
                "i4" => BinaryPrimitives.ReadInt32LittleEndian(e),
                "u4" => BinaryPrimitives.ReadUInt32LittleEndian(e),
                "i8" => BinaryPrimitives.ReadInt64LittleEndian(e),
                "u8" => BinaryPrimitives.ReadUInt64LittleEndian(e),
                _ => throw new NotSupportedException($"dtype {DType} is not numeric"),
            };
        }
        return r;
    }

    /// <summary>The values converted to int64 (integer and boolean dtypes only).</summary>
    public long[] ToInt64s()
    {
        if (DType == "i8") return MemoryMarshal.Cast<byte, long>(Data).ToArray();
        if (DType is "f4" or "f8" or "f2") throw new InvalidOperationException($"dtype {DType} is not an integer type");
        var d = ToDoubles();
        var r = new long[d.Length];
        for (int i = 0; i < d.Length; i++) r[i] = (long)d[i];
        return r;
    }

    /// <summary>Reads one <c>.npy</c> file.</summary>
    public static NpyArray Read(string path)
    {
        using var s = File.OpenRead(path);
        return Read(s);
    }

    /// <summary>Reads one array in <c>.npy</c> format from a stream.</summary>
    public static NpyArray Read(Stream stream)
    {
        Span<byte> magic = stackalloc byte[8];
        stream.ReadExactly(magic);
        if (magic[0] != 0x93 || !magic.Slice(1, 5).SequenceEqual("NUMPY"u8))
            throw new InvalidDataException("not a .npy array (bad magic)");
        int headerLength;
        if (magic[6] == 1)
        {
            Span<byte> l = stackalloc byte[2];
            stream.ReadExactly(l);
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(l);
        }
        else if (magic[6] is 2 or 3)
        {
            Span<byte> l = stackalloc byte[4];
            stream.ReadExactly(l);
            headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(l));
        }
        else throw new InvalidDataException($".npy version {magic[6]} is not supported");

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var header = Encoding.Latin1.GetString(headerBytes);
        var descr = HeaderValue(header, "descr").Trim().Trim('\'', '"');
        if (HeaderValue(header, "fortran_order").Trim() != "False")
            throw new InvalidDataException("Fortran-ordered .npy arrays are not supported");
        var shapeText = HeaderValue(header, "shape").Trim().TrimStart('(').TrimEnd(')');
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();

        if (descr.Length < 2) throw new InvalidDataException($"unsupported dtype '{descr}'");
        var order = descr[0];
        var dtype = order is '<' or '|' or '=' ? descr[1..] : descr;
        if (order == '>' && SizeOf(descr[1..]) > 1) throw new InvalidDataException("big-endian .npy arrays are not supported");
        if (order == '>') dtype = descr[1..];
        long count = 1;
        foreach (var d in shape) count *= d;
        var data = new byte[checked(count * SizeOf(dtype))];
        stream.ReadExactly(data);
        return new NpyArray(dtype, shape, data);
    }

    /// <summary>Writes this array as a version 1.0 <c>.npy</c> file.</summary>
    public void Write(string path)
    {
        using var s = File.Create(path);
        Write(s);
    }

    /// <summary>Writes this array in <c>.npy</c> format to a stream.</summary>
    public void Write(Stream stream)
    {
        var order = ElementSize == 1 ? "|" : "<";
        var shape = Shape.Length == 1 ? $"({Shape[0]},)" : $"({string.Join(", ", Shape)})";
        var dict = $"{{'descr': '{order}{DType}', 'fortran_order': False, 'shape': {shape}, }}";
        // Header padded with spaces so the data starts at a multiple of 64 bytes, ending in '\n'.
        int total = 10 + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        var header = dict + new string(' ', padded - total) + "\n";
        if (header.Length > ushort.MaxValue) throw new InvalidOperationException("shape too long for .npy 1.0");
        Span<byte> pre = stackalloc byte[10];
        pre[0] = 0x93;
        "NUMPY"u8.CopyTo(pre[1..]);
        pre[6] = 1;
        pre[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(pre[8..], (ushort)header.Length);
        stream.Write(pre);
        stream.Write(Encoding.Latin1.GetBytes(header));
        stream.Write(Data);
    }

    private static string HeaderValue(string header, string key)
    {
        var k = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (k < 0) throw new InvalidDataException($".npy header has no '{key}'");
        var colon = header.IndexOf(':', k);
        var start = colon + 1;
        int end;
        if (header.AsSpan(start).TrimStart().StartsWith("("))
            end = header.IndexOf(')', start) + 1;
        else
        {
            end = header.IndexOf(',', start);
            if (end < 0) end = header.IndexOf('}', start);
        }
        return header[start..end];
    }

    private static int SizeOf(string dtype) => dtype switch
    {
        "f8" or "i8" or "u8" => 8,
        "f4" or "i4" or "u4" => 4,
        "f2" or "i2" or "u2" => 2,
        "u1" or "i1" or "b1" => 1,
        _ => throw new NotSupportedException($"dtype '{dtype}' is not supported"),
    };
}

/// <summary>A NumPy <c>.npz</c> archive: named arrays in a zip file.</summary>
public static class NpzFile
{
    /// <summary>Reads every array of an <c>.npz</c> file, keyed by name without the <c>.npy</c> suffix.</summary>
    public static Dictionary<string, NpyArray> Read(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var result = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        foreach (var entry in zip.Entries)
        {
            if (!entry.Name.EndsWith(".npy", StringComparison.Ordinal)) continue;
            using var s = entry.Open();
            using var buffered = new BufferedStream(s, 1 << 16);
            result[entry.FullName[..^4]] = NpyArray.Read(buffered);
        }
        return result;
    }

    /// <summary>Writes named arrays as an uncompressed <c>.npz</c> file (what <c>numpy.savez</c> writes).</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, NpyArray>> arrays)
    {
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        foreach (var (name, array) in arrays)
        {
            var entry = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression);
            using var s = entry.Open();
            array.Write(s);
        }
    }
}
