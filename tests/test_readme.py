"""The README stays a page a newcomer reads in minutes, and its map and links name what exists."""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def test_the_readme_is_short():
    assert len(readme().splitlines()) <= 150


def test_every_path_in_the_map_exists():
    block = readme().split("## Map of the code", 1)[1].split("```")[1]
    named = [line.split()[0] for line in block.splitlines() if line and not line[0].isspace()]
    assert len(named) >= 10
    missing = [path for path in named if not os.path.exists(os.path.join(ROOT, path))]
    assert missing == []


def test_every_rule_home_exists():
    """The table of rules names modules and functions that are really there."""
    from reporting import models, web
    from reporting.filing import filing, reviewed
    from reporting.progress import ranking, rollup
    from reporting.regions import views as regions
    table = readme().split("The rules each have one home", 1)[1].split("\n\n")[1]
    homes = re.findall(r"`([^`]+)`", table)
    scope = {"filing": filing, "reviewed": reviewed, "rollup": rollup, "ranking": ranking, "web": web, "regions": regions,
             "Period": models.Period, "Campaign": models.Campaign, "Review": models.Review}
    for home in homes:
        if home.endswith(".py"):
            assert os.path.exists(os.path.join(ROOT, home)), home
            continue
        owner, name = home.split(".")
        assert hasattr(scope[owner], name), home


def test_every_linked_document_exists():
    links = re.findall(r"\]\(([^)#]+)\)", readme())
    assert links and [link for link in links if not os.path.exists(os.path.join(ROOT, link))] == []
