using Tora.Models.Checkpoints;
using Tora.TestSupport;

namespace Tora.Models.Tests;

public sealed class CheckpointLayoutTests
{
    [Theory]
    [InlineData("fixtures/tiny-tora-t2v/transformer")]
    [InlineData("fixtures/tiny-tora-i2v/transformer")]
    public void Transformer_layout_has_exactly_the_tensors_of_the_official_format(string folder)
    {
        var config = ToraTransformerConfig.Load(Path.Combine(TestData.Path(folder), "config.json"));
        AssertSameTensors(CheckpointLayout.ToraTransformer(config), TestData.Path(folder));
    }

    [Fact]
    public void T5_layout_has_exactly_the_tensors_of_the_official_format()
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/text_encoder");
        AssertSameTensors(CheckpointLayout.T5Encoder(T5EncoderConfig.Load(Path.Combine(folder, "config.json"))), folder);
    }

    [Fact]
    public void CogVideoX_5B_layout_has_the_published_parameter_counts()
    {
        var tensors = CheckpointLayout.ToraTransformer(RandomCheckpoint.TransformerConfig(RandomConfig.CogVideoX5B));
        long Count(Func<CheckpointTensor, bool> which) => tensors.Where(which).Sum(t => t.ElementCount);
        bool IsBuffer(CheckpointTensor t) => t.Name.Contains("running_") || t.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal);
        // docs/model.md §3.1, §3.2: TE 24,910,976 parameters + 43,176 BN buffers; 42 fusers 669,441,024.
        Assert.Equal(24_910_976, Count(t => t.Name.StartsWith("traj_extractor.", StringComparison.Ordinal) && !IsBuffer(t)));
        Assert.Equal(43_176, Count(t => t.Name.StartsWith("traj_extractor.", StringComparison.Ordinal) && IsBuffer(t)));
        Assert.Equal(669_441_024, Count(t => t.Name.StartsWith("fuser.", StringComparison.Ordinal)));
        // docs/model.md §4.2: the CogVideoX-5B transformer itself ≈ 5.570 B.
        long dit = Count(t => !t.Name.StartsWith("fuser.", StringComparison.Ordinal) && !t.Name.StartsWith("traj_extractor.", StringComparison.Ordinal));
        Assert.InRange(dit, 5_565_000_000, 5_575_000_000);
        // 24 tensors per block: norm1/norm2 (linear + LayerNorm), q/k norms, q/k/v/out, two feed-forward linears.
        Assert.Equal(42 * 24, tensors.Count(t => t.Name.StartsWith("transformer_blocks.", StringComparison.Ordinal)));
    }

    [Fact]
    public void T5_XXL_layout_has_about_4_76_billion_parameters()
    {
        var tensors = CheckpointLayout.T5Encoder(T5EncoderConfig.XXL);
        Assert.InRange(tensors.Sum(t => t.ElementCount), 4_750_000_000, 4_770_000_000); // docs/model.md §4.1
    }

    [Fact]
    public void The_tiny_random_checkpoint_builds_and_matches_the_fixture_layout()
    {
        var dir = TestData.TempFolder();
        RandomCheckpoint.Write(RandomConfig.Tiny, dir, 7);
        AssertSameTensors(CheckpointLayout.ToraTransformer(ToraTransformerConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/transformer/config.json"))), Path.Combine(dir, "transformer"));
        AssertSameTensors(CheckpointLayout.T5Encoder(T5EncoderConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/text_encoder/config.json"))), Path.Combine(dir, "text_encoder"));
        Assert.Equal(ToraTransformerConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/transformer/config.json")), ToraTransformerConfig.Load(Path.Combine(dir, "transformer/config.json")));
        Assert.Equal(T5EncoderConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/text_encoder/config.json")), T5EncoderConfig.Load(Path.Combine(dir, "text_encoder/config.json")));
    }

    private static void AssertSameTensors(IReadOnlyList<CheckpointTensor> layout, string folder)
    {
        using var ckpt = Checkpoint.Open(folder);
        var actual = ckpt.Names.Order(StringComparer.Ordinal).Select(n => $"{n} [{string.Join(",", ckpt.Entry(n).Shape)}]").ToList();
        var expected = layout.Select(t => $"{t.Name} [{string.Join(",", t.Shape)}]").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, actual);
    }
}
