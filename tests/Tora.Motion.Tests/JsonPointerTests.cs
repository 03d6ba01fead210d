namespace Tora.Motion.Tests;

public sealed class JsonPointerTests
{
    [Theory]
    [InlineData("$", "")]
    [InlineData("$.prompt", "/prompt")]
    [InlineData("$.trajectories[0].points[3][1]", "/trajectories/0/points/3/1")]
    [InlineData("$.metadata['a/b']", "/metadata/a~1b")]
    public void Json_paths_become_json_pointers(string path, string pointer) =>
        Assert.Equal(pointer, Tora.Motion.JsonPointer.FromPath(path));
}
