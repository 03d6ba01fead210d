using Tora.Core.Generations;

namespace Tora.Core.Tests.Generations;

public sealed class GenerationIdsTests
{
    [Fact]
    public void Ids_are_version_7_and_strictly_increasing_even_within_one_millisecond()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => GenerationIds.Next()).ToArray();
        Assert.All(ids, id => Assert.Equal(7, id.Version));
        Assert.All(ids, id => Assert.Equal(0b10, id.Variant >> 2));
        for (var i = 1; i < ids.Length; i++) Assert.True(ids[i - 1].CompareTo(ids[i]) < 0 && string.CompareOrdinal(ids[i - 1].ToString(), ids[i].ToString()) < 0);
    }
}
