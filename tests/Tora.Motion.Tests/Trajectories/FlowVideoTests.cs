using Tora.Motion.Trajectories;

namespace Tora.Motion.Tests.Trajectories;

/// <summary>
/// The sparse flow renderer against an independent dense implementation (a plain 2-D correlation with the
/// 99 × 99 kernel and reflect-101 borders), plus the semantics of docs/model.md §2.1 and §2.3.
/// </summary>
public sealed class FlowVideoTests
{
    [Theory]
    [InlineData(20, 30)] // shorter than the kernel radius: reflections fold several times
    [InlineData(60, 70)] // one reflection per side
    public void Blurred_flow_equals_a_dense_reflect101_correlation(int height, int width)
    {
        var g = new VideoGeometry(4, height, width);
        PixelPoint[][] tracks =
        [
            [new(0, 0), new(3, 1), new(width - 1, height - 2), new(1, height - 1)],
            [new(width / 2, height / 2), new(width / 2 + 2, height / 2 - 5), new(width - 2, 1), new(width - 2, 1)],
            [new(1, 2), new(width - 1, height - 2), new(2, 0), new(5, 5)], // frame 2 reuses track 0's pixel: later wins
        ];
        var flow = FlowVideo.Create(tracks, g);
        var actual = new float[g.FramePixels * 2];
        for (var t = 0; t < g.Frames; t++)
        {
            var expected = DenseReference(tracks, g, t);
            flow.WriteBlurredFlow(t, actual);
            for (var i = 0; i < actual.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6 * Math.Max(1, Math.Abs(expected[i])), $"t={t} i={i}: {actual[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void A_later_trajectory_overwrites_an_earlier_one_on_the_same_pixel()
    {
        var g = new VideoGeometry(2, 100, 100);
        var flow = FlowVideo.Create([[new(50, 50), new(60, 50)], [new(50, 50), new(50, 45)]], g);
        var e = Assert.Single(flow.SparseEntries);
        Assert.Equal(new SparseFlowEntry(1, 50, 50, 0, -5), e);

        // A later zero displacement also overwrites (assignment, not sum), leaving no motion at all.
        var still = FlowVideo.Create([[new(50, 50), new(60, 50)], [new(50, 50), new(50, 50)]], g);
        Assert.Empty(still.SparseEntries);
    }

    [Fact]
    public void Displacement_is_stored_at_the_previous_position_and_frame_zero_is_empty()
    {
        var g = new VideoGeometry(3, 200, 200);
        var flow = FlowVideo.Create([[new(100, 90), new(103, 94), new(103, 94)]], g);
        Assert.Equal([new SparseFlowEntry(1, 100, 90, 3, 4)], flow.SparseEntries);
        Assert.Equal(5f, flow.MaxNorm); // peak-1 kernel, far from the borders

        // Near a border reflect-101 folds the kernel back onto the source's side: weight 1 + g(2·10) at x = 0.
        var border = FlowVideo.Create([[new(10, 100), new(15, 100), new(15, 100)]], g);
        Assert.Equal((float)(5 * (2 * Math.Exp(-100 / 200.0))), border.MaxNorm, 5);
        var rgb = flow.ToRgb();
        var frame = g.FramePixels * 3;
        Assert.All(rgb.AsSpan(0, frame).ToArray(), b => Assert.Equal(255, b));         // frame 0 white
        Assert.All(rgb.AsSpan(2 * frame, frame).ToArray(), b => Assert.Equal(255, b)); // no motion into frame 2
    }

    [Fact]
    public void Colour_is_white_beyond_49_pixels_and_coloured_within()
    {
        var g = new VideoGeometry(2, 300, 300);
        var flow = FlowVideo.Create([[new(150, 150), new(140, 155)]], g);
        var rgb = flow.ToRgb();
        var frame1 = rgb.AsSpan(g.FramePixels * 3);
        for (var y = 0; y < 300; y += 7)
        for (var x = 0; x < 300; x += 7)
        {
            var o = (y * 300 + x) * 3;
            var white = frame1[o] == 255 && frame1[o + 1] == 255 && frame1[o + 2] == 255;
            var inside = Math.Abs(x - 150) <= 49 && Math.Abs(y - 150) <= 49;
            if (!inside) Assert.True(white, $"({x},{y}) should be white");
            else if (Math.Abs(x - 150) <= 30 && Math.Abs(y - 150) <= 30) Assert.False(white, $"({x},{y}) should be coloured");
        }
    }

    [Theory]
    [InlineData(5, 0, 255, 0, 0)]     // rightward: v = +0 gives atan2(−0, −u) = −π, wheel entry 0 (red)
    [InlineData(-5, 0, 0, 209, 255)]  // leftward: wheel entry 27
    [InlineData(0, -5, 87, 0, 255)]   // upward: atan2(5, −0) = π/2 → fk = 40.5, halfway between entries 40 and 41 (blue-magenta)
    [InlineData(0, 5, 255, 229, 0)]   // downward: atan2(−5, −0) = −π/2 → fk = 13.5, halfway between entries 13 and 14 (orange)
    public void Direction_maps_to_the_colour_wheel_like_torchvision(int dx, int dy, int r, int gg, int b)
    {
        var g = new VideoGeometry(2, 120, 120);
        var flow = FlowVideo.Create([[new(60, 60), new(60 + dx, 60 + dy)]], g);
        var rgb = flow.ToRgb();
        var o = g.FramePixels * 3 + (60 * 120 + 60) * 3;
        Assert.Equal((r, gg, b), (rgb[o], rgb[o + 1], rgb[o + 2]));
    }

    [Fact]
    public void Vae_input_is_the_rgb_video_scaled_to_minus_one_one_in_channel_first_layout()
    {
        var g = new VideoGeometry(9, 96, 128);
        var trajectories = new[] { TrajectoryPresets.Get("coaster").Trajectory, TrajectoryPresets.Get("wave").Trajectory };
        var flow = FlowVideo.FromTrajectories(trajectories, g);
        var rgb = flow.ToRgb();
        var vae = new float[flow.VaeInputLength];
        vae.AsSpan().Fill(float.NaN); // a pooled buffer holds garbage: every value must be written
        flow.WriteVaeInput(vae);
        for (var c = 0; c < 3; c++)
        for (var t = 0; t < g.Frames; t++)
        for (var i = 0; i < g.FramePixels; i++)
        {
            var expected = rgb[((long)t * g.FramePixels + i) * 3 + c] / 255f * 2f - 1f;
            Assert.Equal(expected, vae[((long)c * g.Frames + t) * g.FramePixels + i]);
        }
        Assert.Equal(1f, vae.Max());
        Assert.True(vae.Min() >= -1f);
    }

    [Fact]
    public void Rgb_is_the_colouring_of_the_dense_blurred_flow_pixel_by_pixel()
    {
        // Overlapping windows (two objects 30 px apart), a border, and a lone object: the renderer's per-window
        // colour reuse must give exactly what colouring every pixel of the blurred field gives.
        var g = new VideoGeometry(4, 150, 200);
        PixelPoint[][] tracks =
        [
            [new(60, 70), new(64, 75), new(70, 78), new(71, 60)],
            [new(90, 70), new(85, 72), new(5, 140), new(0, 149)],
            [new(180, 20), new(181, 21), new(199, 0), new(150, 10)],
        ];
        var flow = FlowVideo.Create(tracks, g);
        var rgb = flow.ToRgb();
        var field = new float[g.FramePixels * 2];
        var denominator = FlowColorWheel.Denominator(flow.MaxNorm);
        for (var t = 0; t < g.Frames; t++)
        {
            flow.WriteBlurredFlow(t, field);
            for (var i = 0; i < g.FramePixels; i++)
            {
                var expected = FlowColorWheel.Colorize(field[i * 2], field[i * 2 + 1], denominator);
                var o = ((long)t * g.FramePixels + i) * 3;
                Assert.Equal(expected, (rgb[o], rgb[o + 1], rgb[o + 2]));
            }
        }
    }

    [Fact]
    public void A_pooled_buffer_gives_exactly_a_full_write_job_after_job()
    {
        var g = new VideoGeometry(9, 96, 128);
        var buffer = new FlowVideoBuffer(g);
        var expected = new float[buffer.Data.Length];
        Trajectory[][] jobs =
        [
            [TrajectoryPresets.Get("coaster").Trajectory],
            [TrajectoryPresets.Get("wave").Trajectory, TrajectoryPresets.Get("spiral").Trajectory],
            [],
            [TrajectoryPresets.Get("shake").Trajectory],
        ];
        foreach (var job in jobs)
        {
            var flow = FlowVideo.FromTrajectories(job, g);
            flow.WriteVaeInput(buffer);
            flow.WriteVaeInput(expected);
            Assert.Equal(expected, buffer.Data);
        }

        // Written by someone else: after Invalidate the next write is a full one again.
        buffer.Data.AsSpan().Fill(-0.5f);
        buffer.Invalidate();
        var last = FlowVideo.FromTrajectories(jobs[0], g);
        last.WriteVaeInput(buffer);
        last.WriteVaeInput(expected);
        Assert.Equal(expected, buffer.Data);

        Assert.Throws<ArgumentException>(() => last.WriteVaeInput(new FlowVideoBuffer(g with { Width = 120 })));
    }

    [Fact]
    public void Destination_buffers_that_are_too_small_are_rejected()
    {
        var flow = FlowVideo.Create([[new(1, 1), new(2, 2)]], new VideoGeometry(2, 10, 10));
        Assert.Throws<ArgumentException>(() => flow.WriteVaeInput(new float[599]));
        Assert.Throws<ArgumentException>(() => flow.WriteRgb(new byte[599]));
        Assert.Throws<ArgumentException>(() => FlowVideo.Create([[new(1, 1), new(10, 2)]], new VideoGeometry(2, 10, 10)));
        Assert.Throws<ArgumentException>(() => FlowVideo.Create([[new(1, 1)]], new VideoGeometry(2, 10, 10)));
    }

    // Independent reference: sparse field as the original's get_flow, then a dense 2-D correlation in double.
    private static double[] DenseReference(PixelPoint[][] tracks, VideoGeometry g, int t)
    {
        var (h, w) = (g.Height, g.Width);
        var sparse = new double[h * w * 2];
        if (t > 0)
        {
            foreach (var track in tracks)
            {
                var p = track[t - 1];
                sparse[(p.Y * w + p.X) * 2] = track[t].X - p.X;
                sparse[(p.Y * w + p.X) * 2 + 1] = track[t].Y - p.Y;
            }
        }
        var result = new double[h * w * 2];
        for (var y = 0; y < h; y++)
        for (var x = 0; x < w; x++)
        for (var dy = -49; dy <= 49; dy++)
        {
            var sy = FlowBlur.Reflect101(y + dy, h);
            for (var dx = -49; dx <= 49; dx++)
            {
                var sx = FlowBlur.Reflect101(x + dx, w);
                var s = (sy * w + sx) * 2;
                if (sparse[s] == 0 && sparse[s + 1] == 0) continue;
                var k = Math.Exp(-(dx * dx + dy * dy) / 200.0);
                result[(y * w + x) * 2] += k * sparse[s];
                result[(y * w + x) * 2 + 1] += k * sparse[s + 1];
            }
        }
        return result;
    }
}
