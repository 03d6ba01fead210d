using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Motion.IO;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Models.Tests;

public sealed class T5EncoderTests(ITestOutputHelper output)
{
    private static string Folder => TestData.Path("fixtures/tiny-tora-t2v/text_encoder");

    [Fact]
    public void Matches_the_reference_last_hidden_state_on_the_CPU_provider()
    {
        var reference = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/text_encoder.npz"));
        using var ckpt = Checkpoint.Open(Folder);
        var g = T5Encoder.Build(ckpt, T5EncoderConfig.Load(Path.Combine(Folder, "config.json")));
        var result = OrtRunner.RunOnce(g.ToBytes(), new Dictionary<string, NpyArray> { ["input_ids"] = reference["input_ids"] }, GraphNames.TextEncoder.LastHiddenState);
        float err = OrtRunner.MaxAbsDiff(result[GraphNames.TextEncoder.LastHiddenState], reference["last_hidden_state"]);
        output.WriteLine($"t5 max abs error {err:E3}");
        Assert.True(err <= 1e-4f, $"max abs error {err}");
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(-7, 7)]
    [InlineData(7, 16 + 7)]
    [InlineData(-8, 8)]
    [InlineData(-15, 9)]
    [InlineData(15, 16 + 9)]
    [InlineData(-16, 10)]
    [InlineData(-200, 15)]
    [InlineData(200, 31)]
    public void Buckets_relative_positions_as_T5(int relative, int expected)
    {
        // T5 with 32 buckets and max distance 128: 16 buckets per direction (keys after the query add 16),
        // distances 0..7 exact, then 8 + floor(log(n/8) / log(16) * 8), capped at 15.
        Assert.Equal(expected, T5Encoder.RelativePositionBucket(relative, 32, 128));
    }
}
