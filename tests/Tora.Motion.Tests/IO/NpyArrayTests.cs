using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Motion.Tests.IO;

public class NpyArrayTests
{
    [Fact]
    public void Reads_golden_npz_with_shapes_and_dtypes()
    {
        var arrays = NpzFile.Read(TestData.Path("golden/trajectories/rgb_coaster.npz"));
        var rgb = arrays["rgb_directconv"];
        Assert.Equal("u1", rgb.DType);
        Assert.Equal(new[] { 49, 3, 480, 720 }, rgb.Shape);
    }

    [Fact]
    public void Round_trips_float_arrays_through_npz()
    {
        var dir = TestData.TempFolder();
        var path = Path.Combine(dir, "a.npz");
        float[] values = [1.5f, -2f, float.NaN, 3.25f, 0f, 7f];
        NpzFile.Write(path, [new("x", NpyArray.FromFloats(values, 2, 3)), new("n", NpyArray.FromInt64s([42L], 1))]);
        var back = NpzFile.Read(path);
        Assert.Equal(new[] { 2, 3 }, back["x"].Shape);
        Assert.Equal(values, back["x"].ToFloats());
        Assert.Equal(42L, back["n"].ToInt64s()[0]);
    }

    [Fact]
    public void Header_is_padded_to_64_bytes()
    {
        using var ms = new MemoryStream();
        NpyArray.FromBytes([1, 2, 3], 3).Write(ms);
        Assert.Equal(0, (ms.Length - 3) % 64);
    }
}
