using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tora.Motion.Trajectories;

namespace Tora.Motion.Tests.Trajectories;

/// <summary>A random canvas256 trajectory (1..200 integer points) and a frame count (2..97).</summary>
public sealed record CanvasCase(Trajectory Trajectory, int Frames)
{
    public override string ToString() =>
        $"F={Frames} points=[{string.Join(" ", Trajectory.Points.Select(p => $"({p.X},{p.Y})"))}]";
}

/// <summary>A random normalized trajectory (1..200 points in 0..1) and a frame count (2..97).</summary>
public sealed record NormalizedCase(Trajectory Trajectory, int Frames)
{
    public override string ToString() =>
        $"F={Frames} points=[{string.Join(" ", Trajectory.Points.Select(p => $"({p.X:R},{p.Y:R})"))}]";
}

/// <summary>Generators of <see cref="CanvasCase"/> and <see cref="NormalizedCase"/>.</summary>
public static class TrajectoryArbitraries
{
    public static Arbitrary<CanvasCase> Canvas() =>
        (from frames in Gen.Choose(2, 97)
         from n in Gen.Choose(1, 200)
         from xs in Gen.ArrayOf(Gen.Choose(0, 255), n)
         from ys in Gen.ArrayOf(Gen.Choose(0, 255), n)
         select new CanvasCase(new Trajectory(xs.Zip(ys, (x, y) => new TrajectoryPoint(x, y)).ToArray(), CoordinateSpace.Canvas256), frames))
        .ToArbitrary();

    public static Arbitrary<NormalizedCase> Normalized() =>
        (from frames in Gen.Choose(2, 97)
         from n in Gen.Choose(1, 200)
         from xs in Gen.ArrayOf(Gen.Choose(0, 1_000_000), n)
         from ys in Gen.ArrayOf(Gen.Choose(0, 1_000_000), n)
         select new NormalizedCase(new Trajectory(xs.Zip(ys, (x, y) => new TrajectoryPoint(x / 1e6, y / 1e6)).ToArray(), CoordinateSpace.Normalized), frames))
        .ToArbitrary();
}

/// <summary>Invariants of <see cref="TrajectoryResampler"/> over random inputs.</summary>
[Properties(Arbitrary = [typeof(TrajectoryArbitraries)], MaxTest = 300)]
public sealed class ResamplingPropertyTests
{
    [Property]
    public bool Resampling_gives_one_point_per_frame(CanvasCase c) =>
        TrajectoryResampler.ResampleInSpace(c.Trajectory, c.Frames).Length == c.Frames;

    [Property]
    public bool Resampling_keeps_first_and_last_point(CanvasCase c)
    {
        var r = TrajectoryResampler.ResampleInSpace(c.Trajectory, c.Frames);
        return r[0] == c.Trajectory.Points[0] && r[^1] == c.Trajectory.Points[^1];
    }

    [Property]
    public bool Resampled_points_stay_within_the_input_bounds_and_are_integers(CanvasCase c)
    {
        var pts = c.Trajectory.Points;
        var (minX, maxX, minY, maxY) = (pts.Min(p => p.X), pts.Max(p => p.X), pts.Min(p => p.Y), pts.Max(p => p.Y));
        return TrajectoryResampler.ResampleInSpace(c.Trajectory, c.Frames).All(p =>
            p.X >= minX && p.X <= maxX && p.Y >= minY && p.Y <= maxY && p.X == Math.Floor(p.X) && p.Y == Math.Floor(p.Y));
    }

    [Property]
    public bool Resampling_exactly_num_frames_points_is_the_identity(CanvasCase c)
    {
        var once = TrajectoryResampler.ResampleInSpace(c.Trajectory, c.Frames);
        var twice = TrajectoryResampler.ResampleInSpace(c.Trajectory with { Points = once }, c.Frames);
        return once.SequenceEqual(twice);
    }

    [Property]
    public bool Video_points_lie_inside_the_frame(CanvasCase c)
    {
        var g = new VideoGeometry(c.Frames, 480, 720);
        return TrajectoryResampler.ToVideo(c.Trajectory, g).All(p => p.X is >= 0 and < 720 && p.Y is >= 0 and < 480);
    }

    [Property]
    public bool Normalized_resampling_keeps_ends_bounds_and_length(NormalizedCase c)
    {
        var pts = c.Trajectory.Points;
        var r = TrajectoryResampler.ResampleInSpace(c.Trajectory, c.Frames);
        var (minX, maxX, minY, maxY) = (pts.Min(p => p.X), pts.Max(p => p.X), pts.Min(p => p.Y), pts.Max(p => p.Y));
        return r.Length == c.Frames && r[0] == pts[0] && r[^1] == pts[^1]
            && r.All(p => p.X >= minX && p.X <= maxX && p.Y >= minY && p.Y <= maxY)
            && TrajectoryResampler.ResampleInSpace(c.Trajectory with { Points = r }, c.Frames).SequenceEqual(r);
    }

    [Property]
    public bool Pinned_frames_are_hit_exactly(CanvasCase c)
    {
        // Pin the first min(n, F) points to evenly spread increasing frames.
        var n = Math.Min(c.Trajectory.Points.Count, c.Frames);
        var points = c.Trajectory.Points.Take(n).ToArray();
        var frames = Enumerable.Range(0, n).Select(i => n == 1 ? 0 : (int)((long)i * (c.Frames - 1) / (n - 1))).ToArray();
        var r = TrajectoryResampler.ResampleInSpace(new Trajectory(points, CoordinateSpace.Canvas256, frames), c.Frames);
        return r.Length == c.Frames && frames.Select((f, i) => r[f] == points[i]).All(ok => ok);
    }
}
