using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;
using Tora.Models.Onnx;
using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Models.Tests;

public sealed class GraphStructureTests
{
    private static (ToraTransformerConfig Config, LatentGeometry Geometry, ModelProto Model) Transformer(ElementType type = ElementType.Float32)
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/transformer");
        var config = ToraTransformerConfig.Load(Path.Combine(folder, "config.json"));
        var geometry = LatentGeometry.FromConfig(config);
        using var ckpt = Checkpoint.Open(folder);
        return (config, geometry, ToraTransformer.Build(ckpt, config, geometry, type).ToModel());
    }

    [Fact]
    public void Transformer_attention_is_one_fused_op_per_block_and_no_sequence_squared_tensor_exists()
    {
        var (config, geometry, model) = Transformer();
        var nodes = model.Graph.Node;
        long sequence = config.MaxTextSeqLength + geometry.VideoTokens;
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);

        Assert.Equal(config.NumLayers, nodes.Count(n => n.OpType == "MultiHeadAttention" && n.Domain == "com.microsoft"));
        // An unfused attention needs Softmax over scores and a MatMul of two activations (q·kᵀ, p·v).
        Assert.DoesNotContain(nodes, n => n.OpType == "Softmax");
        Assert.All(nodes.Where(n => n.OpType == "MatMul"), n => Assert.True(initializers.ContainsKey(n.Input[1]), $"{n.Name} multiplies two activations"));
        // No constant is sequence²-sized, and no shape constant has two sequence-long axes.
        Assert.All(initializers.Values, t => Assert.True(t.Dims.Aggregate(1L, (a, b) => a * b) < sequence * sequence, $"{t.Name} is sequence²-sized"));
        Assert.All(initializers.Values.Where(t => t.DataType == (int)ElementType.Int64),
            t => Assert.True(t.Int64Data.Count(v => v == sequence) < 2, $"{t.Name} shapes a sequence x sequence tensor"));
    }

    [Fact]
    public void Graphs_declare_IR_8_opset_17_and_the_contrib_domain()
    {
        var (_, _, model) = Transformer();
        Assert.Equal(8, model.IrVersion);
        Assert.Contains(model.OpsetImport, o => o.Domain == "" && o.Version == 17);
        Assert.Contains(model.OpsetImport, o => o.Domain == "com.microsoft" && o.Version == 1);
    }

    [Fact]
    public void External_data_graphs_load_from_file_and_give_the_same_result()
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/text_encoder");
        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/text_encoder.npz"));
        using var ckpt = Checkpoint.Open(folder);
        var g = T5Encoder.Build(ckpt, T5EncoderConfig.Load(Path.Combine(folder, "config.json")));
        var dir = TestData.TempFolder();
        var files = g.Save(Path.Combine(dir, "text_encoder.onnx"), forceExternalData: true);
        Assert.Equal(2, files.Count);
        Assert.True(new FileInfo(files[1]).Length >= g.WeightBytes);
        Assert.True(new FileInfo(files[0]).Length < 20_000, $"weights must live in the data file, model file is {new FileInfo(files[0]).Length} bytes");
        using var runner = new OrtRunner(files[0]);
        var result = runner.Run(new Dictionary<string, NpyArray> { ["input_ids"] = reference["input_ids"] }, GraphNames.TextEncoder.LastHiddenState);
        Assert.True(OrtRunner.MaxAbsDiff(result[GraphNames.TextEncoder.LastHiddenState], reference["last_hidden_state"]) <= 1e-4f);
    }

    [Fact]
    public void I2V_transformer_takes_32_channels_and_predicts_16()
    {
        var folder = TestData.Path("fixtures/tiny-tora-i2v/transformer");
        var config = ToraTransformerConfig.Load(Path.Combine(folder, "config.json"));
        var geometry = LatentGeometry.FromConfig(config);
        using var ckpt = Checkpoint.Open(folder);
        var encoder = TrajectoryEncoder.Build(ckpt, config, geometry);
        var transformer = ToraTransformer.Build(ckpt, config, geometry);
        ckpt.EnsureAllUsed();
        var t2v = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/transformer_t2v.npz"));
        var latents = t2v["hidden_states"].ToFloats();
        var i2v = new float[latents.Length * 2]; // [2, 13, 32, 8, 12]: noise latents, then (here) the same values as "image" latents
        int frame = 16 * 8 * 12;
        for (int f = 0; f < 2 * 13; f++)
        {
            Array.Copy(latents, f * frame, i2v, 2 * f * frame, frame);
            Array.Copy(latents, f * frame, i2v, (2 * f + 1) * frame, frame);
        }
        var flow = OrtRunner.RunOnce(encoder.ToBytes(), new Dictionary<string, NpyArray> { ["video_flow"] = t2v["video_flow"] }, "mgf_gamma_0", "mgf_beta_0");
        var output = OrtRunner.RunOnce(transformer.ToBytes(), new Dictionary<string, NpyArray>
        {
            ["hidden_states"] = NpyArray.FromFloats(i2v, 2, 13, 32, 8, 12),
            ["encoder_hidden_states"] = t2v["encoder_hidden_states"],
            ["timestep"] = t2v["timestep_999"],
            ["rope_cos"] = t2v["rope_cos"],
            ["rope_sin"] = t2v["rope_sin"],
            ["mgf_gamma_0"] = flow["mgf_gamma_0"],
            ["mgf_beta_0"] = flow["mgf_beta_0"],
        }, GraphNames.Transformer.NoisePred)[GraphNames.Transformer.NoisePred];
        Assert.Equal([2, 13, 16, 8, 12], output.Shape);
        Assert.All(output.ToFloats(), v => Assert.True(float.IsFinite(v)));
    }
}
