using Tora.Motion.Trajectories;
using Tora.TestSupport;

namespace Tora.Motion.Tests.Trajectories;

/// <summary>Reading .txt and JSON trajectories, validation errors as data, and the embedded presets.</summary>
public sealed class TrajectoryInputTests
{
    private static readonly VideoGeometry Video = VideoGeometry.Default;

    [Fact]
    public void Text_reader_accepts_both_separators_blank_lines_and_a_missing_final_newline()
    {
        var r = TrajectoryTextReader.Parse("76, 161\n95,86\r\n\n  106 , 164  \n\n126,84");
        Assert.True(r.Success);
        Assert.Equal([new(76, 161), new(95, 86), new(106, 164), new(126, 84)], Assert.Single(r.Trajectories).Points);
        Assert.Equal(CoordinateSpace.Canvas256, r.Trajectories[0].Space);
    }

    [Fact]
    public void Text_reader_names_the_bad_line_and_point()
    {
        var r = TrajectoryTextReader.Parse("1,2\n\n3;4\n5,6,7\n8,9", index: 2);
        Assert.False(r.Success);
        Assert.Empty(r.Trajectories);
        Assert.Collection(r.Errors,
            e => { Assert.Equal("/trajectories/2/points/1", e.Pointer); Assert.Equal("invalid_syntax", e.Code); Assert.Contains("line 3", e.Message); },
            e => { Assert.Equal("/trajectories/2/points/2", e.Pointer); Assert.Contains("line 4", e.Message); });
    }

    [Fact]
    public void Json_reader_reads_the_api_format()
    {
        var r = TrajectoryJsonReader.Parse("""
            {"trajectories": [
              {"points": [[0.1, 0.2], [0.5, 0.5]], "space": "normalized"},
              {"points": [[10, 20], [30, 40], [50, 60]], "space": "canvas256", "frames": [0, 10, 48]},
              {"points": [[100, 200]], "space": "pixels"},
              {"points": [[0.3, 0.3]]}
            ]}
            """);
        Assert.True(r.Success, string.Join("; ", r.Errors));
        Assert.Equal(4, r.Trajectories.Count);
        Assert.Equal(CoordinateSpace.Normalized, r.Trajectories[0].Space);
        Assert.Equal([new(0.1, 0.2), new(0.5, 0.5)], r.Trajectories[0].Points);
        Assert.Equal(CoordinateSpace.Canvas256, r.Trajectories[1].Space);
        Assert.Equal([0, 10, 48], r.Trajectories[1].Frames!);
        Assert.Equal(CoordinateSpace.Pixels, r.Trajectories[2].Space);
        Assert.Null(r.Trajectories[2].Frames);
        Assert.Equal(CoordinateSpaces.Default, r.Trajectories[3].Space);
    }

    [Fact]
    public void Json_reader_also_takes_a_bare_list_or_one_trajectory()
    {
        var list = TrajectoryJsonReader.Parse("""[{"points": [[1, 2]], "space": "canvas256"}, {"points": [[3, 4]], "space": "canvas256"}]""");
        Assert.Equal(2, list.Trajectories.Count);
        var one = TrajectoryJsonReader.Parse("""{"points": [[1, 2], [3, 4]], "space": "pixels"}""");
        Assert.Equal([new(1, 2), new(3, 4)], Assert.Single(one.Trajectories).Points);
    }

    [Theory]
    [InlineData("{", "", "invalid_syntax")]
    [InlineData("42", "", "invalid_value")]
    [InlineData("""{"trajectories": {}}""", "/trajectories", "invalid_value")]
    [InlineData("""{"trajectories": [{"points": [[1, 2], [3]]}]}""", "/trajectories/0/points/1", "invalid_value")]
    [InlineData("""{"trajectories": [{"points": [[1, 2], ["a", 3]]}]}""", "/trajectories/0/points/1/0", "invalid_value")]
    [InlineData("""{"trajectories": [{"points": [[1, 2]], "space": "polar"}]}""", "/trajectories/0/space", "unknown_space")]
    [InlineData("""{"trajectories": [{"points": [[1, 2]], "frames": [0.5]}]}""", "/trajectories/0/frames/0", "invalid_value")]
    [InlineData("""{"trajectories": [{"space": "pixels"}]}""", "/trajectories/0/points", "invalid_value")]
    [InlineData("""{"trajectories": [5]}""", "/trajectories/0", "invalid_value")]
    public void Json_reader_reports_shape_errors_with_pointers(string json, string pointer, string code)
    {
        var r = TrajectoryJsonReader.Parse(json);
        Assert.False(r.Success);
        var e = r.Errors[0];
        Assert.Equal(pointer, e.Pointer);
        Assert.Equal(code, e.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void Overflowing_json_numbers_are_reported_not_thrown()
    {
        var r = TrajectoryJsonReader.Parse("""{"trajectories": [{"points": [[0.5, 0.5], [1e400, 0.5]], "frames": [0, 1e12]}]}""");
        var errors = r.Success ? TrajectoryValidator.Validate(r.Trajectories, Video) : r.Errors;
        Assert.NotEmpty(errors);
        Assert.Contains(errors, e => e.Pointer is "/trajectories/0/points/1" or "/trajectories/0/frames/1");
    }

    [Fact]
    public void No_trajectories_is_valid_and_means_motion_guidance_off() =>
        Assert.Empty(TrajectoryValidator.Validate([], Video));

    [Fact]
    public void Validation_names_every_point_outside_the_canvas()
    {
        var errors = TrajectoryValidator.Validate(
        [
            Trajectory.FromCanvas256((0, 0), (255, 255), (256, 10), (10, -1)),
            new Trajectory([new(0.5, 0.5), new(1.0, 1.0), new(1.01, 0.2)], CoordinateSpace.Normalized),
            new Trajectory([new(719.5, 479), new(720, 0), new(3, 480)], CoordinateSpace.Pixels),
        ], Video);
        Assert.Equal(
            ["/trajectories/0/points/2", "/trajectories/0/points/3", "/trajectories/1/points/2", "/trajectories/2/points/1", "/trajectories/2/points/2"],
            errors.Select(e => e.Pointer));
        Assert.All(errors, e => Assert.Equal("point_outside_canvas", e.Code));
        Assert.Contains("(256, 10)", errors[0].Message);
    }

    [Fact]
    public void Validation_rejects_nan_and_infinite_coordinates()
    {
        var errors = TrajectoryValidator.Validate(
            [new Trajectory([new(double.NaN, 1), new(1, 1), new(1, double.PositiveInfinity)], CoordinateSpace.Normalized)], Video);
        Assert.Equal(["/trajectories/0/points/0", "/trajectories/0/points/2"], errors.Select(e => e.Pointer));
        Assert.All(errors, e => Assert.Equal("point_not_finite", e.Code));
    }

    [Fact]
    public void Validation_checks_frame_indices()
    {
        var pts = new TrajectoryPoint[] { new(1, 1), new(2, 2), new(3, 3), new(4, 4) };
        var errors = TrajectoryValidator.Validate(
        [
            new Trajectory(pts, CoordinateSpace.Canvas256, [0, 5, 5, 49]),
            new Trajectory(pts, CoordinateSpace.Canvas256, [-1, 3, 2, 10]),
            new Trajectory(pts, CoordinateSpace.Canvas256, [0, 1]),
        ], Video);
        Assert.Equal(
            [
                ("/trajectories/0/frames/2", "frames_not_increasing"), ("/trajectories/0/frames/3", "frame_out_of_range"),
                ("/trajectories/1/frames/0", "frame_out_of_range"), ("/trajectories/1/frames/2", "frames_not_increasing"),
                ("/trajectories/2/frames", "frames_length_mismatch"),
            ],
            errors.Select(e => (e.Pointer, e.Code)));
    }

    [Fact]
    public void Validation_enforces_the_configured_limits_and_rejects_empty_trajectories()
    {
        var limits = new TrajectoryLimits { MaxTrajectories = 2, MaxPointsPerTrajectory = 3 };
        var errors = TrajectoryValidator.Validate(
        [
            Trajectory.FromCanvas256((1, 1), (2, 2), (3, 3), (4, 4)),
            new Trajectory([], CoordinateSpace.Canvas256),
            Trajectory.FromCanvas256((1, 1)),
        ], Video, limits);
        Assert.Equal(
            [("/trajectories", "too_many_trajectories"), ("/trajectories/0/points", "too_many_points"), ("/trajectories/1/points", "empty_trajectory")],
            errors.Select(e => (e.Pointer, e.Code)));
    }

    [Fact]
    public void Presets_are_the_nine_original_files()
    {
        var counts = new Dictionary<string, int>
        {
            ["circle"] = 22, ["coaster"] = 25, ["dance"] = 57, ["infinity"] = 41, ["pause"] = 41,
            ["sawtooth"] = 6, ["shake"] = 205, ["spiral"] = 24, ["wave"] = 28,
        };
        Assert.Equal(counts.Keys.Order(), TrajectoryPresets.Names);
        foreach (var preset in TrajectoryPresets.List)
        {
            Assert.Equal(counts[preset.Name], preset.Trajectory.Points.Count);
            var file = TrajectoryTextReader.ReadFile(TestData.Path($"tora-data/trajs/{preset.Name}.txt")).Trajectories[0];
            Assert.Equal(file.Points, preset.Trajectory.Points);
            Assert.Equal(File.ReadAllText(TestData.Path($"tora-data/trajs/{preset.Name}.txt")), TrajectoryPresets.GetText(preset.Name));
            Assert.Empty(TrajectoryValidator.Validate([preset.Trajectory], Video));
        }
        Assert.True(TrajectoryPresets.TryGet("Coaster", out _));
        Assert.False(TrajectoryPresets.TryGet("loop", out _));
        Assert.Throws<KeyNotFoundException>(() => TrajectoryPresets.Get("loop"));
    }
}
