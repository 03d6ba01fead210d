using System.Text.Json;
using Tora.Motion.Trajectories;

namespace Tora.Motion.Tests.Trajectories;

/// <summary>The one wire record of a trajectory, the space names, and the one parse-and-validate entry point.</summary>
public sealed class TrajectorySpecTests
{
    private static readonly VideoGeometry Video = VideoGeometry.Default;

    [Theory]
    [InlineData(CoordinateSpace.Normalized, "normalized")]
    [InlineData(CoordinateSpace.Canvas256, "canvas256")]
    [InlineData(CoordinateSpace.Pixels, "pixels")]
    public void Every_space_prints_the_name_that_parses_back_to_it(CoordinateSpace space, string name)
    {
        Assert.Equal(name, CoordinateSpaces.Name(space));
        Assert.True(CoordinateSpaces.TryParse(name, out var parsed));
        Assert.Equal(space, parsed);
        Assert.True(CoordinateSpaces.TryParse(name.ToUpperInvariant(), out _));
        Assert.Contains(name, CoordinateSpaces.Names);
    }

    [Fact]
    public void An_unknown_space_name_is_refused_and_leaves_the_default() =>
        Assert.Equal((false, CoordinateSpaces.Default), (CoordinateSpaces.TryParse("polar", out var s), s));

    [Fact]
    public void A_trajectory_survives_the_wire_form_and_json_unchanged()
    {
        var original = new Trajectory([new(10, 20), new(30.5, 40)], CoordinateSpace.Pixels, [0, 12]);
        var json = JsonSerializer.Serialize(TrajectorySpec.From(original));
        Assert.Equal("""{"points":[[10,20],[30.5,40]],"space":"pixels","frames":[0,12]}""", json);
        var back = TrajectorySpec.ToTrajectories([JsonSerializer.Deserialize<TrajectorySpec>(json)]);
        Assert.True(back.Success);
        var t = Assert.Single(back.Trajectories);
        Assert.Equal(original.Points, t.Points);
        Assert.Equal(original.Space, t.Space);
        Assert.Equal(original.Frames, t.Frames);
    }

    [Fact]
    public void Shape_errors_point_at_the_item_the_space_and_the_point()
    {
        var r = TrajectorySpec.ToTrajectories(
        [
            null,
            new TrajectorySpec { Points = [[1, 2]], Space = "polar" },
            new TrajectorySpec { Space = "pixels" },
            new TrajectorySpec { Points = [[1, 2], [3], null] },
        ]);
        Assert.False(r.Success);
        Assert.Empty(r.Trajectories);
        Assert.Equal(
            [("/trajectories/0", "invalid_value"), ("/trajectories/1/space", "unknown_space"), ("/trajectories/2/points", "invalid_value"),
             ("/trajectories/3/points/1", "invalid_value"), ("/trajectories/3/points/2", "invalid_value")],
            r.Errors.Select(e => (e.Pointer, e.Code)));
    }

    [Fact]
    public void Resolve_checks_the_count_first_then_the_shape_then_the_video()
    {
        var many = Enumerable.Range(0, TrajectoryLimits.Default.MaxTrajectories + 1)
            .Select(_ => (TrajectorySpec?)new TrajectorySpec { Points = [[0.5, 0.5]] }).ToArray();
        Assert.Equal("too_many_trajectories", Assert.Single(TrajectoryValidator.Resolve(many, Video).Errors).Code);

        var outside = TrajectoryValidator.Resolve([new TrajectorySpec { Points = [[0.5, 0.5], [1.5, 0.5]] }], Video);
        var e = Assert.Single(outside.Errors);
        Assert.Equal(("/trajectories/0/points/1", "point_outside_canvas"), (e.Pointer, e.Code));

        var ok = TrajectoryValidator.Resolve([new TrajectorySpec { Points = [[40, 208], [88, 148]], Space = "canvas256" }], Video);
        Assert.True(ok.Success);
        Assert.Equal(CoordinateSpace.Canvas256, Assert.Single(ok.Trajectories).Space);
        Assert.True(TrajectoryValidator.Resolve(null, Video) is { Success: true, Trajectories.Count: 0 });
    }
}
