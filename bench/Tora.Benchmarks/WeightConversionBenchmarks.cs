using BenchmarkDotNet.Attributes;
using Tora.Models.Graph;

namespace Tora.Benchmarks;

/// <summary>
/// The model compiler's hot loop: decoding checkpoint bf16 to float32, transposing a Linear weight and
/// encoding it to the package precision, on one CogVideoX-5B feed-forward matrix (12 288 × 3 072).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class WeightConversionBenchmarks
{
    private const int Rows = 12288, Columns = 3072;
    private byte[] _bf16 = [];
    private float[] _floats = [];
    private byte[] _output = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _floats = new float[Rows * Columns];
        for (int i = 0; i < _floats.Length; i++) _floats[i] = (float)(random.NextDouble() - 0.5);
        _bf16 = new byte[_floats.Length * 2];
        ElementTypes.EncodeFromFloat(_floats, ElementType.BFloat16, _bf16);
        _output = new byte[_floats.Length * 4];
    }

    [Benchmark]
    public void DecodeBf16() => ElementTypes.DecodeToFloat(_bf16, ElementType.BFloat16, _floats);

    [Benchmark]
    public void EncodeBf16() => ElementTypes.EncodeFromFloat(_floats, ElementType.BFloat16, _output);

    [Benchmark]
    public void TransposeLinearWeight()
    {
        var source = new ArrayWeight(_floats, Rows, Columns);
        new TransposedWeight(source).ReadFloats(MemoryMarshalFloats());
    }

    private Span<float> MemoryMarshalFloats() => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(_output.AsSpan());
}
