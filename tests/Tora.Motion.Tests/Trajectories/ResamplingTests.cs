using Tora.Motion.Trajectories;

namespace Tora.Motion.Tests.Trajectories;

/// <summary>The resampling rules of issue 3 on hand-checked examples.</summary>
public sealed class ResamplingTests
{
    private static readonly VideoGeometry Video = VideoGeometry.Default;

    [Fact]
    public void One_point_is_a_static_object()
    {
        var r = TrajectoryResampler.ToVideo(Trajectory.FromCanvas256((100, 50)), Video);
        Assert.Equal(49, r.Length);
        Assert.All(r, p => Assert.Equal(new PixelPoint(281, 93), p)); // int(720·100/256), int(480·50/256)
        var flow = FlowVideo.Create([r], Video);
        Assert.Empty(flow.SparseEntries);
        Assert.Equal(0f, flow.MaxNorm);
    }

    [Fact]
    public void More_points_than_frames_are_resampled_evenly_over_the_whole_path()
    {
        // 97 points on a line x = 2i: s = i·96/48 = 2i hits every other input point exactly.
        var t = Trajectory.FromCanvas256(Enumerable.Range(0, 97).Select(i => (i * 2, 7)).ToArray());
        var r = TrajectoryResampler.ResampleInSpace(t, 49);
        Assert.Equal(Enumerable.Range(0, 49).Select(i => new TrajectoryPoint(i * 4, 7)), r);
    }

    [Fact]
    public void Fractional_positions_interpolate_and_truncate_toward_zero()
    {
        // n = 4 points, F = 3 frames: s = 0, 1.5, 3 → the middle frame is halfway between points 1 and 2.
        var t = Trajectory.FromCanvas256((0, 0), (10, 3), (21, 8), (30, 30));
        var r = TrajectoryResampler.ResampleInSpace(t, 3);
        Assert.Equal([new(0, 0), new(15, 5), new(30, 30)], r); // 15.5 → 15, 5.5 → 5
    }

    [Fact]
    public void The_shake_preset_keeps_its_tail_unlike_the_original()
    {
        var shake = TrajectoryPresets.Get("shake").Trajectory; // 205 points: the original keeps only the first 196
        var r = TrajectoryResampler.ResampleInSpace(shake, 49);
        Assert.Equal(shake.Points[^1], r[^1]);
        Assert.Equal(shake.Points[0], r[0]);
        Assert.Equal(shake.Points[17], r[4]); // s = 4·204/48 = 17 exactly
        Assert.Equal(shake.Points[204 - 17], r[44]); // s = 44·204/48 = 187
    }

    [Fact]
    public void Pinned_frames_interpolate_between_the_given_frames_and_hold_outside()
    {
        var t = new Trajectory([new(10, 10), new(20, 30)], CoordinateSpace.Canvas256, [2, 6]);
        var r = TrajectoryResampler.ResampleInSpace(t, 9);
        Assert.Equal(
            [new(10, 10), new(10, 10), new(10, 10), new(12, 15), new(15, 20), new(17, 25), new(20, 30), new(20, 30), new(20, 30)],
            r);
    }

    [Fact]
    public void Normalized_points_map_to_pixels_by_truncation_with_one_on_the_last_pixel()
    {
        var t = new Trajectory([new(0, 0), new(0.5, 0.25), new(1, 1)], CoordinateSpace.Normalized, [0, 1, 2]);
        var r = TrajectoryResampler.ToVideo(t, new VideoGeometry(3, 480, 720));
        Assert.Equal([new(0, 0), new(360, 120), new(719, 479)], r);
    }

    [Fact]
    public void Normalized_points_stay_fractional_while_resampling()
    {
        var t = new Trajectory([new(0, 0), new(0.001, 0.5)], CoordinateSpace.Normalized);
        var r = TrajectoryResampler.ResampleInSpace(t, 3);
        Assert.Equal(new TrajectoryPoint(0.0005, 0.25), r[1]);
    }

    [Fact]
    public void Pixel_points_are_used_as_is_after_truncation()
    {
        var t = new Trajectory([new(10.9, 20.2), new(700, 470)], CoordinateSpace.Pixels);
        var r = TrajectoryResampler.ToVideo(t, Video);
        Assert.Equal(new PixelPoint(10, 20), r[0]);
        Assert.Equal(new PixelPoint(700, 470), r[^1]);
        // 2 points, 47 inserted: int(10 + 1/48·690) = 24, int(20 + 1/48·450) = 29
        Assert.Equal(new PixelPoint(24, 29), r[1]);
    }

    [Fact]
    public void Canvas256_scaling_is_the_originals_integer_truncation()
    {
        Assert.Equal(new PixelPoint(717, 478), TrajectoryResampler.ToPixel(new(255, 255), CoordinateSpace.Canvas256, Video));
        Assert.Equal(new PixelPoint(2, 1), TrajectoryResampler.ToPixel(new(1, 1), CoordinateSpace.Canvas256, Video));
        Assert.Equal(new PixelPoint(23, 15), TrajectoryResampler.ToPixel(new(33, 33), CoordinateSpace.Canvas256, new VideoGeometry(49, 120, 180)));
    }

    [Fact]
    public void Invalid_trajectories_throw_with_the_errors_as_data()
    {
        var e = Assert.Throws<TrajectoryValidationException>(() =>
            TrajectoryResampler.ToVideo([Trajectory.FromCanvas256((0, 0), (300, 5))], Video));
        Assert.Equal("/trajectories/0/points/1", Assert.Single(e.Errors).Pointer);
    }
}
