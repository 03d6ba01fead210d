using Tora.Inference.Pipeline;
using Tora.Inference.Vae;

namespace Tora.Inference.Tests.Vae;

public sealed class VaeTilingPlanTests
{
    [Fact]
    public void Diffusers_default_tiles_cover_480_by_720_in_three_by_three_tiles()
    {
        var tiling = VaeTiling.HalfFrame(480, 720);
        Assert.Equal(new VaeTiling(240, 360), tiling);
        tiling.EnsureCovers(480, 720, 8);

        var decode = tiling.PlanDecode(60, 90, 8);
        Assert.True(decode.IsTiled);
        Assert.Equal([new(0, 30, 240), new(25, 30, 240), new(50, 10, 80)], decode.Rows.Tiles);
        Assert.Equal([new(0, 45, 360), new(36, 45, 360), new(72, 18, 144)], decode.Columns.Tiles);
        Assert.Equal((40, 200, 72, 288), (decode.Rows.Blend, decode.Rows.Limit, decode.Columns.Blend, decode.Columns.Limit));
        Assert.Equal((480, 720), (decode.OutputHeight, decode.OutputWidth));

        var encode = tiling.PlanEncode(480, 720, 8);
        Assert.Equal([new(0, 240, 30), new(200, 240, 30), new(400, 80, 10)], encode.Rows.Tiles);
        Assert.Equal([new(0, 360, 45), new(288, 360, 45), new(576, 144, 18)], encode.Columns.Tiles);
        Assert.Equal((5, 25, 9, 36), (encode.Rows.Blend, encode.Rows.Limit, encode.Columns.Blend, encode.Columns.Limit));
        Assert.Equal((60, 90), (encode.OutputHeight, encode.OutputWidth));
    }

    [Fact]
    public void Half_frame_tiles_of_the_tiny_package_give_70_by_110_and_are_refused_in_one_line()
    {
        var plan = VaeTiling.HalfFrame(64, 96).PlanDecode(8, 12, 8);
        Assert.Equal((70, 110), (plan.OutputHeight, plan.OutputWidth));
        var e = Assert.Throws<ArgumentException>(() => VaeTiling.HalfFrame(64, 96).EnsureCovers(64, 96, 8));
        Assert.Contains("70x110", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_tile_whose_step_would_be_zero_is_refused()
    {
        // 8 px tiles: one latent per tile, int(1 · 5/6) = 0, a loop diffusers cannot run.
        Assert.False(new VaeTiling(8, 8).PlanDecode(8, 12, 8).Rows.Valid);
        Assert.Throws<ArgumentException>(() => new VaeTiling(8, 8).EnsureCovers(64, 96, 8));
    }

    [Fact]
    public void No_tiles_when_the_frame_fits_in_one_tile()
    {
        Assert.False(new VaeTiling(64, 96).PlanDecode(8, 12, 8).IsTiled);
        Assert.False(new VaeTiling(480, 720).PlanEncode(480, 720, 8).IsTiled);
        new VaeTiling(64, 96).EnsureCovers(64, 96, 8);
    }

    [Theory]
    [InlineData("48x40", 48, 40)]
    [InlineData(" 240X360 ", 240, 360)]
    public void Parses_a_tile_size(string text, int height, int width) =>
        Assert.Equal(new VaeTiling(height, width), VaeTiling.Parse(text));

    [Theory]
    [InlineData("48")]
    [InlineData("48x")]
    [InlineData("0x40")]
    [InlineData("-48x40")]
    [InlineData("48x40x2")]
    [InlineData("ax b")]
    public void Refuses_a_malformed_tile_size(string text) => Assert.Throws<FormatException>(() => VaeTiling.Parse(text));

    [Fact]
    public void The_setting_resolves_auto_to_half_frame_tiles_only_in_low_memory_mode_and_only_where_they_fit()
    {
        var log = new List<string>();
        Assert.Null(VaeTilingChoice.Auto.Resolve(480, 720, 8, lowMemory: false, log.Add));
        Assert.Equal(new VaeTiling(240, 360), VaeTilingChoice.Auto.Resolve(480, 720, 8, lowMemory: true, log.Add));
        Assert.Null(VaeTilingChoice.Auto.Resolve(64, 96, 8, lowMemory: true, log.Add));
        Assert.Contains(log, l => l.Contains("70x110"));
        Assert.Null(VaeTilingChoice.Off.Resolve(480, 720, 8, lowMemory: true, log.Add));
        Assert.Equal(new VaeTiling(240, 360), VaeTilingChoice.HalfFrame.Resolve(480, 720, 8, lowMemory: false, log.Add));
        Assert.Throws<ArgumentException>(() => VaeTilingChoice.HalfFrame.Resolve(64, 96, 8, lowMemory: false, log.Add));
        Assert.Equal(new VaeTiling(48, 40), VaeTilingChoice.Parse("48x40").Resolve(64, 96, 8, lowMemory: false, log.Add));
        Assert.Equal([VaeTilingChoice.Off, VaeTilingChoice.Auto, VaeTilingChoice.HalfFrame], new[] { "off", "auto", "on" }.Select(VaeTilingChoice.Parse));
    }

    [Theory]
    [InlineData("latent_height", "latent_height", 1, 1)]
    [InlineData("latent_height*8", "latent_height", 8, 1)]
    [InlineData("height/4", "height", 1, 4)]
    public void Spatial_dimension_names_round_trip(string symbol, string name, int multiplier, int divisor)
    {
        Assert.True(VaeSpatialDim.TryParse(symbol, out var d));
        Assert.Equal(new VaeSpatialDim(name, multiplier, divisor), d);
        Assert.Equal(symbol, d.Symbol);
        Assert.Equal(new VaeSpatialDim(name, 1).Times(multiplier).Over(divisor), d);
    }

    [Fact]
    public void Spatial_dimensions_resolve_against_the_input_and_refuse_fractions()
    {
        Assert.Equal(480, new VaeSpatialDim("latent_height", 8).Resolve(60));
        Assert.Equal(30, new VaeSpatialDim("height", 1, 8).Resolve(240));
        Assert.Throws<ArgumentException>(() => new VaeSpatialDim("height", 1, 8).Resolve(244));
        Assert.False(VaeSpatialDim.TryParse("past_frames*x", out _));
        Assert.False(VaeSpatialDim.TryParse("", out _));
    }
}
