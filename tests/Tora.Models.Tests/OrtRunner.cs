using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tora.Inference.IO;

namespace Tora.Models.Tests;

/// <summary>Runs a built graph on the ONNX Runtime CPU provider with NumPy arrays in and out.</summary>
internal static class OrtRunner
{
    public static Dictionary<string, float[]> Run(byte[] model, IReadOnlyDictionary<string, NpyArray> inputs, params string[] outputs)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        using var session = new InferenceSession(model, options);
        return Run(session, inputs, outputs);
    }

    public static Dictionary<string, float[]> Run(string modelPath, IReadOnlyDictionary<string, NpyArray> inputs, params string[] outputs)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 2 };
        using var session = new InferenceSession(modelPath, options);
        return Run(session, inputs, outputs);
    }

    private static Dictionary<string, float[]> Run(InferenceSession session, IReadOnlyDictionary<string, NpyArray> inputs, string[] outputs)
    {
        var values = new List<NamedOnnxValue>();
        foreach (var (name, a) in inputs)
        {
            if (a.DType.EndsWith("i8", StringComparison.Ordinal))
                values.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(a.ToInt64s(), a.Shape)));
            else
                values.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(a.ToFloats(), a.Shape)));
        }
        using var results = session.Run(values, outputs);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }

    public static float MaxAbsDiff(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            float d = MathF.Abs(actual[i] - expected[i]);
            if (float.IsNaN(d)) return float.NaN;
            if (d > max) max = d;
        }
        return max;
    }
}
