using Tora.Models.Onnx;

namespace Tora.Models.Graph;

/// <summary>Element types the compiler reads and writes (a subset of ONNX <c>TensorProto.DataType</c>).</summary>
public enum ElementType
{
    /// <summary>IEEE float32.</summary>
    Float32 = 1,
    /// <summary>IEEE float16.</summary>
    Float16 = 10,
    /// <summary>bfloat16 (the upper 16 bits of a float32).</summary>
    BFloat16 = 16,
    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 7,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,
}

/// <summary>Sizes, names and conversions of <see cref="ElementType"/>.</summary>
public static class ElementTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this ElementType t) => t switch
    {
        ElementType.Float32 or ElementType.Int32 => 4,
        ElementType.Float16 or ElementType.BFloat16 => 2,
        ElementType.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };

    /// <summary>The ONNX data type code.</summary>
    public static TensorProto.Types.DataType ToOnnx(this ElementType t) => (TensorProto.Types.DataType)(int)t;

    /// <summary>The name used in manifests and messages: float32, float16, bfloat16, int64, int32.</summary>
    public static string Name(this ElementType t) => t switch
    {
        ElementType.Float32 => "float32",
        ElementType.Float16 => "float16",
        ElementType.BFloat16 => "bfloat16",
        ElementType.Int64 => "int64",
        ElementType.Int32 => "int32",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, null),
    };

    /// <summary>Whether this is a floating-point type.</summary>
    public static bool IsFloat(this ElementType t) => t is ElementType.Float32 or ElementType.Float16 or ElementType.BFloat16;

    /// <summary>Converts a float32 to bfloat16 bits, rounding to nearest even (as torch's <c>.to(bfloat16)</c>).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>Widens bfloat16 bits to float32 (exact).</summary>
    public static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Decodes <paramref name="source"/> elements of type <paramref name="type"/> into float32 (exact for all float types).</summary>
    public static void DecodeToFloat(ReadOnlySpan<byte> source, ElementType type, Span<float> destination)
    {
        switch (type)
        {
            case ElementType.Float32:
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(source)[..destination.Length].CopyTo(destination);
                break;
            case ElementType.Float16:
                var h = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)h[i];
                break;
            case ElementType.BFloat16:
                var b = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = FromBFloat16(b[i]);
                break;
            default:
                throw new NotSupportedException($"cannot read {type.Name()} as float");
        }
    }

    /// <summary>Encodes float32 values as <paramref name="type"/> (round to nearest even).</summary>
    public static void EncodeFromFloat(ReadOnlySpan<float> source, ElementType type, Span<byte> destination)
    {
        switch (type)
        {
            case ElementType.Float32:
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case ElementType.Float16:
                var h = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(destination);
                for (int i = 0; i < source.Length; i++) h[i] = (Half)source[i];
                break;
            case ElementType.BFloat16:
                var b = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < source.Length; i++) b[i] = ToBFloat16(source[i]);
                break;
            default:
                throw new NotSupportedException($"cannot write float as {type.Name()}");
        }
    }
}
