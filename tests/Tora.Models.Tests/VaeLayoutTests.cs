using Tora.Models.Checkpoints;
using Tora.TestSupport;

namespace Tora.Models.Tests;

public sealed class VaeLayoutTests
{
    [Fact]
    public void Layout_names_and_shapes_are_those_of_the_diffusers_checkpoint()
    {
        var folder = TestData.Path("fixtures/tiny-tora-t2v/vae");
        var config = CogVideoXVaeConfig.Load(Path.Combine(folder, "config.json"));
        using var ckpt = Checkpoint.Open(folder);
        var layout = CogVideoXVaeLayout.Tensors(config).ToDictionary(t => t.Name, t => t.Shape);
        Assert.Equal(ckpt.Names.Order(StringComparer.Ordinal), layout.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, shape) in layout) Assert.Equal(ckpt.Entry(name).Shape, shape);
    }

    [Fact]
    public void The_CogVideoX_5B_VAE_has_about_216_million_parameters()
    {
        // docs/model.md §4.3: ~216 M parameters (from the release's totals).
        long count = CogVideoXVaeLayout.Tensors(CogVideoXVaeConfig.CogVideoX5B).Sum(t => t.ElementCount);
        Assert.InRange(count, 215_000_000, 217_000_000);
    }

    [Fact]
    public void Unsupported_configurations_are_refused_by_name()
    {
        var e = Assert.Throws<CheckpointException>(() => CogVideoXVaeConfig.Validate(CogVideoXVaeConfig.CogVideoX5B with { UsePostQuantConv = true }, "vae/config.json"));
        Assert.Contains("quant convs", e.Message);
        e = Assert.Throws<CheckpointException>(() => CogVideoXVaeConfig.Validate(CogVideoXVaeConfig.CogVideoX5B with { NormNumGroups = 48 }, "vae/config.json"));
        Assert.Contains("norm_num_groups", e.Message);
    }
}
