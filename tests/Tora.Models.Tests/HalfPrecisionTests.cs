using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;
using Tora.Motion.IO;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Models.Tests;

/// <summary>fp16 graphs on the CPU provider: they must load and run, and stay near the float32 reference.</summary>
public sealed class HalfPrecisionTests(ITestOutputHelper output)
{
    [Fact]
    public void Fp16_text_encoder_loads_runs_and_stays_near_the_reference_on_the_CPU()
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/text_encoder");
        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/text_encoder.npz"));
        using var ckpt = Checkpoint.Open(folder);
        var g = T5Encoder.Build(ckpt, T5EncoderConfig.Load(Path.Combine(folder, "config.json")), computeType: ElementType.Float16);
        var result = OrtRunner.RunOnce(g.ToBytes(), new Dictionary<string, NpyArray> { ["input_ids"] = reference["input_ids"] }, GraphNames.TextEncoder.LastHiddenState);
        float err = OrtRunner.MaxAbsDiff(result[GraphNames.TextEncoder.LastHiddenState], reference["last_hidden_state"]);
        output.WriteLine($"fp16 T5 max abs error {err:E3}");
        // Not a reference tolerance (those are for float32): fp16 weights alone move outputs by ~1e-3.
        Assert.True(err < 2e-2f, $"fp16 T5 drifted by {err}");
    }

    [Fact]
    public void Fp16_trajectory_encoder_and_transformer_load_run_and_stay_near_the_reference_on_the_CPU()
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/transformer");
        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/transformer_t2v.npz"));
        var config = ToraTransformerConfig.Load(Path.Combine(folder, "config.json"));
        var geometry = LatentGeometry.FromConfig(config);
        using var ckpt = Checkpoint.Open(folder);
        var te = TrajectoryEncoder.Build(ckpt, config, geometry, ElementType.Float16);
        var tr = ToraTransformer.Build(ckpt, config, geometry, ElementType.Float16);

        using var teSession = new InferenceSession(te.ToBytes());
        var flow = new DenseTensor<float>(reference["video_flow"].ToFloats(), reference["video_flow"].Shape);
        using var mgf = teSession.Run([NamedOnnxValue.CreateFromTensor("video_flow", flow)]);

        using var trSession = new InferenceSession(tr.ToBytes());
        var inputs = new List<NamedOnnxValue>
        {
            Float("hidden_states", reference["hidden_states"]),
            Float("encoder_hidden_states", reference["encoder_hidden_states"]),
            NamedOnnxValue.CreateFromTensor("timestep", new DenseTensor<long>(reference["timestep_999"].ToInt64s(), [2])),
            Float("rope_cos", reference["rope_cos"]),
            Float("rope_sin", reference["rope_sin"]),
        };
        foreach (var v in mgf) inputs.Add(NamedOnnxValue.CreateFromTensor(v.Name, v.AsTensor<Float16>()));
        using var result = trSession.Run(inputs, [GraphNames.Transformer.NoisePred]);
        var pred = result[0].AsTensor<float>().ToArray();
        float err = OrtRunner.MaxAbsDiff(NpyArray.FromFloats(pred, 2, 13, 16, 8, 12), reference["noise_pred_t999"]);
        output.WriteLine($"fp16 transformer max abs error {err:E3}");
        Assert.True(err < 5e-2f, $"fp16 transformer drifted by {err}");
    }

    private static NamedOnnxValue Float(string name, NpyArray a) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(a.ToFloats(), a.Shape));
}
