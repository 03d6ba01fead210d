using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tora.Motion.IO;

namespace Tora.Models.Tests;

/// <summary>Runs built graphs on the ONNX Runtime CPU provider with NumPy arrays in and out.</summary>
internal sealed class OrtRunner : IDisposable
{
    private readonly SessionOptions _options = new() { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
    private readonly InferenceSession _session;

    public OrtRunner(byte[] model) => _session = new InferenceSession(model, _options);

    public OrtRunner(string modelPath) => _session = new InferenceSession(modelPath, _options);

    public InferenceSession Session => _session;

    public Dictionary<string, NpyArray> Run(IReadOnlyDictionary<string, NpyArray> inputs, params string[] outputs)
    {
        var values = new List<NamedOnnxValue>();
        foreach (var (name, a) in inputs)
        {
            if (a.DType.EndsWith("i8", StringComparison.Ordinal))
                values.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(a.ToInt64s(), a.Shape)));
            else
                values.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(a.ToFloats(), a.Shape)));
        }
        using var results = _session.Run(values, outputs);
        return results.ToDictionary(r => r.Name, r =>
        {
            var t = r.AsTensor<float>();
            return NpyArray.FromFloats(t.ToArray(), t.Dimensions.ToArray());
        });
    }

    public static Dictionary<string, NpyArray> RunOnce(byte[] model, IReadOnlyDictionary<string, NpyArray> inputs, params string[] outputs)
    {
        using var r = new OrtRunner(model);
        return r.Run(inputs, outputs);
    }

    /// <summary>Share of equal bytes and the largest difference in levels of two 8-bit videos.</summary>
    public static (double Exact, int Worst) CompareBytes(byte[] actual, byte[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        int exact = 0, worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            int d = Math.Abs(actual[i] - expected[i]);
            if (d == 0) exact++;
            worst = Math.Max(worst, d);
        }
        return ((double)exact / actual.Length, worst);
    }

    public static float MaxAbsDiff(NpyArray actual, NpyArray expected)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var a = actual.ToFloats();
        var e = expected.ToFloats();
        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            float d = MathF.Abs(a[i] - e[i]);
            if (float.IsNaN(d)) return float.NaN;
            if (d > max) max = d;
        }
        return max;
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
