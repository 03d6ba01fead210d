using Tora.Motion.Trajectories;
using Tora.Motion.Video;
using Tora.TestSupport;

namespace Tora.Motion.Tests.Video;

/// <summary>The path overlay drawn like the original's draw_points.</summary>
public sealed class TrajectoryPreviewTests
{
    private static readonly VideoGeometry Small = new(3, 60, 80);
    private static readonly PixelPoint[] Track = [new(10, 30), new(40, 30), new(70, 30)];

    private static (byte, byte, byte) Pixel(RgbVideo v, int t, int x, int y)
    {
        var o = t * v.FrameBytes + (y * v.Width + x) * 3;
        var s = v.Data.Span;
        return (s[o], s[o + 1], s[o + 2]);
    }

    [Fact]
    public void Blank_canvas_shows_the_path_blended_at_70_percent_and_the_current_point_dot()
    {
        var v = TrajectoryPreview.DrawPaths([Track], Small);
        Assert.Equal((3, 60, 80), (v.Frames, v.Height, v.Width));
        // white·0.3 + (255, 1, 1)·0.7, truncated
        Assert.Equal(((byte)255, (byte)77, (byte)77), Pixel(v, 0, 25, 30));
        // the dot (160, 230, 100) follows the object; the path stays
        Assert.Equal(((byte)160, (byte)230, (byte)100), Pixel(v, 0, 10, 30));
        Assert.Equal(((byte)255, (byte)77, (byte)77), Pixel(v, 1, 10, 30));
        Assert.Equal(((byte)160, (byte)230, (byte)100), Pixel(v, 1, 40, 30));
        Assert.Equal(((byte)160, (byte)230, (byte)100), Pixel(v, 2, 70, 30));
        Assert.Equal(((byte)255, (byte)255, (byte)255), Pixel(v, 2, 40, 10));
    }

    [Fact]
    public void Each_path_gets_its_own_colour_from_the_palette_cycling()
    {
        PixelPoint[] second = [new(10, 10), new(40, 10), new(70, 10)];
        PixelPoint[] third = [new(10, 50), new(40, 50), new(70, 50)];
        var v = TrajectoryPreview.DrawPaths([Track, second, third], Small, null, [(0xd5, 0x5e, 0x00), (0x00, 0x72, 0xb2)]);
        // white·0.3 + colour·0.7, truncated; the third path takes the first colour again
        Assert.Equal(((byte)225, (byte)142, (byte)76), Pixel(v, 0, 25, 30));
        Assert.Equal(((byte)76, (byte)156, (byte)201), Pixel(v, 0, 25, 10));
        Assert.Equal(((byte)225, (byte)142, (byte)76), Pixel(v, 0, 25, 50));
        Assert.Equal(8, TrajectoryPreview.EditorColours.Count);
        Assert.Equal(((byte)0xd5, (byte)0x5e, (byte)0x00), TrajectoryPreview.EditorColours[0]);
    }

    [Fact]
    public void First_frame_image_is_resized_under_the_path()
    {
        var image = File.ReadAllBytes(TestData.Path("tora-data/images/fox.png"));
        var v = TrajectoryPreview.DrawPaths([Track], Small, image);
        var decoded = TrajectoryPreview.DecodeImage(image, 80, 60);
        // Away from the path every frame is the resized image.
        var o = (5 * 80 + 5) * 3;
        Assert.Equal((decoded[o], decoded[o + 1], decoded[o + 2]), Pixel(v, 2, 5, 5));
        Assert.NotEqual(((byte)255, (byte)255, (byte)255), Pixel(v, 2, 5, 5));
        // On the path: image·0.3 + path·0.7
        var p = (30 * 80 + 25) * 3;
        Assert.Equal(((byte)(decoded[p] * 0.3f + 255 * 0.7f), (byte)(decoded[p + 1] * 0.3f + 0.7f), (byte)(decoded[p + 2] * 0.3f + 0.7f)), Pixel(v, 0, 25, 30));
    }

    [Fact]
    public void Generated_frames_get_the_overlay_without_being_modified()
    {
        var frames = new byte[Small.Frames * Small.FramePixels * 3];
        var original = new RgbVideo(frames, Small.Frames, Small.Height, Small.Width);
        var drawn = TrajectoryPreview.DrawPaths(original, [Track]);
        Assert.All(frames, b => Assert.Equal(0, b));
        Assert.Equal(((byte)178, (byte)0, (byte)0), Pixel(drawn, 0, 25, 30)); // 0·0.3 + 255·0.7 = 178.5
    }

    [Fact]
    public void Undecodable_images_are_a_clear_error() =>
        Assert.Throws<InvalidImageException>(() => TrajectoryPreview.DrawPaths([Track], Small, "not an image"u8.ToArray()));
}
