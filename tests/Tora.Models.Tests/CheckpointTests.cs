using System.Text.Json;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;
using Tora.TestSupport;

namespace Tora.Models.Tests;

public sealed class CheckpointTests
{
    private static readonly float[] Values = [1.5f, -2.25f, 0.1f, 3e-3f, 65504f, -0.0f];

    [Theory]
    [InlineData(ElementType.Float32)]
    [InlineData(ElementType.Float16)]
    [InlineData(ElementType.BFloat16)]
    public void Reads_back_what_the_writer_wrote_in_each_float_type(ElementType type)
    {
        var dir = TestData.TempFolder();
        new SafetensorsWriter().Add("a.weight", type, [2, 3], Values).Write(Path.Combine(dir, "model.safetensors"));
        using var ckpt = Checkpoint.Open(dir);
        var read = new float[6];
        ckpt.Tensor("a.weight", 2, 3).ReadFloats(read);
        for (int i = 0; i < 6; i++)
        {
            float expected = type switch
            {
                ElementType.Float16 => (float)(Half)Values[i],
                ElementType.BFloat16 => ElementTypes.FromBFloat16(ElementTypes.ToBFloat16(Values[i])),
                _ => Values[i],
            };
            Assert.Equal(expected, read[i]);
        }
        Assert.Equal(type == ElementType.Float32 ? 3e-3f : 0f, type == ElementType.Float32 ? read[3] : 0f);
    }

    [Fact]
    public void Rounds_to_nearest_even_when_narrowing_to_bfloat16()
    {
        // 1 + 2^-8 lies exactly between two bf16 values (1 and 1 + 2^-7): ties go to the even mantissa (1).
        Assert.Equal(1f, ElementTypes.FromBFloat16(ElementTypes.ToBFloat16(1f + 1f / 256)));
        Assert.Equal(1f + 1f / 64, ElementTypes.FromBFloat16(ElementTypes.ToBFloat16(1f + 3f / 256)));
    }

    [Fact]
    public void Reads_sharded_checkpoints_through_the_index()
    {
        var dir = TestData.TempFolder();
        new SafetensorsWriter().Add("a", ElementType.Float32, [2], [1f, 2f]).Write(Path.Combine(dir, "m-00001-of-00002.safetensors"));
        new SafetensorsWriter().Add("b", ElementType.BFloat16, [1], [3f]).Write(Path.Combine(dir, "m-00002-of-00002.safetensors"));
        File.WriteAllText(Path.Combine(dir, "m.safetensors.index.json"), JsonSerializer.Serialize(new
        {
            metadata = new { total_size = 10 },
            weight_map = new Dictionary<string, string> { ["a"] = "m-00001-of-00002.safetensors", ["b"] = "m-00002-of-00002.safetensors" },
        }));
        using var ckpt = Checkpoint.Open(dir);
        var b = new float[1];
        ckpt.Tensor("b", 1).ReadFloats(b);
        Assert.Equal(3f, b[0]);
        Assert.Equal(2, ckpt.Files.Count);
    }

    [Fact]
    public void A_shard_listed_in_the_index_but_absent_fails_naming_it()
    {
        var dir = TestData.TempFolder();
        new SafetensorsWriter().Add("a", ElementType.Float32, [1], [1f]).Write(Path.Combine(dir, "m-1.safetensors"));
        File.WriteAllText(Path.Combine(dir, "m.safetensors.index.json"),
            """{"weight_map": {"a": "m-1.safetensors", "b": "m-2.safetensors"}}""");
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Open(dir));
        Assert.Contains("m-2.safetensors", e.Message);
    }

    [Fact]
    public void A_missing_tensor_fails_naming_it()
    {
        using var ckpt = Checkpoint.Open(TestData.Path("fixtures/tiny-tora-t2v/text_encoder"));
        var e = Assert.Throws<CheckpointException>(() => ckpt.Tensor("encoder.block.9.layer.0.SelfAttention.q.weight", 32, 32));
        Assert.Contains("'encoder.block.9.layer.0.SelfAttention.q.weight'", e.Message);
    }

    [Fact]
    public void A_mis_shaped_tensor_fails_naming_it_and_both_shapes()
    {
        using var ckpt = Checkpoint.Open(TestData.Path("fixtures/tiny-tora-t2v/text_encoder"));
        var e = Assert.Throws<CheckpointException>(() => ckpt.Tensor("shared.weight", 1100, 64));
        Assert.Contains("'shared.weight'", e.Message);
        Assert.Contains("[1100, 32]", e.Message);
        Assert.Contains("[1100, 64]", e.Message);
    }

    [Fact]
    public void An_unknown_tensor_fails_the_build_naming_it()
    {
        var dir = TestData.TempFolder();
        var source = TestData.Path("fixtures/tiny-tora-t2v/text_encoder");
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(dir, "config.json"));
        var writer = new SafetensorsWriter();
        using (var original = Checkpoint.Open(source))
        {
            foreach (var name in original.Names)
            {
                var entry = original.Entry(name);
                var values = new float[entry.ElementCount];
                original.Tensor(name, entry.Shape).ReadFloats(values);
                writer.Add(name, ElementType.Float32, entry.Shape, values);
            }
        }
        writer.Add("encoder.block.0.layer.0.SelfAttention.extra.weight", ElementType.Float32, [2], [0f, 0f]);
        writer.Write(Path.Combine(dir, "model.safetensors"));
        using var ckpt = Checkpoint.Open(dir);
        var e = Assert.Throws<CheckpointException>(() => Architectures.T5Encoder.Build(ckpt, T5EncoderConfig.Load(Path.Combine(dir, "config.json"))));
        Assert.Contains("'encoder.block.0.layer.0.SelfAttention.extra.weight'", e.Message);
    }

    [Fact]
    public void Reads_a_checkpoint_whose_file_is_a_symbolic_link()
    {
        // Hugging Face's cache lays out snapshot folders as links to blobs stored elsewhere.
        var blobs = TestData.TempFolder();
        var blob = Path.Combine(blobs, "0123abcd");
        new SafetensorsWriter().Add("a.weight", ElementType.Float32, [2, 3], Values).Write(blob);
        var snapshot = TestData.TempFolder();
        File.CreateSymbolicLink(Path.Combine(snapshot, "model.safetensors"), blob);
        using var ckpt = Checkpoint.Open(snapshot);
        var read = new float[6];
        ckpt.Tensor("a.weight", 2, 3).ReadFloats(read);
        Assert.Equal(Values, read);
    }

    [Fact]
    public void A_truncated_file_is_rejected_with_its_path()
    {
        var dir = TestData.TempFolder();
        var path = Path.Combine(dir, "model.safetensors");
        new SafetensorsWriter().Add("a", ElementType.Float32, [4], [1f, 2f, 3f, 4f]).Write(path);
        using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(fs.Length - 4);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Open(dir));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Reads_the_transformer_config_of_the_fixture()
    {
        var c = ToraTransformerConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/transformer/config.json"));
        Assert.Equal((2, 16, 2, 32, 16, 16, 1e-5), (c.NumAttentionHeads, c.AttentionHeadDim, c.NumLayers, c.InnerDim, c.InChannels, c.TimeEmbedDim, c.NormEps));
        Assert.Equal(32, ToraTransformerConfig.Load(TestData.Path("fixtures/tiny-tora-i2v/transformer/config.json")).InChannels);
    }

    [Fact]
    public void An_unsupported_transformer_config_fails_with_the_reason()
    {
        var dir = TestData.TempFolder();
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, """{"num_attention_heads": 2, "attention_head_dim": 16, "patch_size_t": 2}""");
        var e = Assert.Throws<CheckpointException>(() => ToraTransformerConfig.Load(path));
        Assert.Contains("patch_size_t", e.Message);
    }
}
