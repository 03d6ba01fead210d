namespace Tora.Models.Tests;

/// <summary>
/// The VAE's GroupNorm statistics are float64-accurate without a float64 copy of the activation: at 480 × 720 each
/// such copy was 6.4 GB and held the real-size decode over 10 GiB (docs/vae-tiling.md, memory).
/// </summary>
public sealed class VaeGroupNormMemoryTests(VaeFixture f) : IClassFixture<VaeFixture>
{
    private const int Float64 = 11;

    [Fact]
    public void Only_row_statistics_are_widened_to_float64()
    {
        foreach (var bytes in new[] { f.DecoderModel, f.EncoderModel })
        {
            var graph = Tora.Models.Onnx.ModelProto.Parser.ParseFrom(bytes).Graph;
            var producers = graph.Node.SelectMany(n => n.Output.Select(o => (Output: o, Node: n))).ToDictionary(p => p.Output, p => p.Node);
            var constants = graph.Initializer.Select(t => t.Name).ToHashSet();
            var widening = graph.Node.Where(n => n.OpType == "Cast" && n.Attribute.Any(a => a.Name == "to" && a.I == Float64)).ToList();
            Assert.NotEmpty(widening);
            foreach (var cast in widening)
            {
                // A row mean over the last axis, or the epsilon constant: never the activation itself.
                var source = producers.GetValueOrDefault(cast.Input[0]);
                Assert.True(source is null ? constants.Contains(cast.Input[0]) : source.OpType is "ReduceMean" or "Constant",
                    $"{cast.Name} widens {cast.Input[0]} ({source?.OpType ?? "a graph input"}) to float64");
                if (source?.OpType == "ReduceMean")
                    Assert.Equal([-1L], source.Attribute.Single(a => a.Name == "axes").Ints);
            }
        }
    }
}
