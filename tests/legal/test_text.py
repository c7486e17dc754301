"""Markdown rendering (safe, with an outline) and the word-level diff."""

from __future__ import annotations

from app.legal.diff import MAX_WORD_DIFF, Skipped, diff_texts
from app.legal.rendering import render_markdown


def test_raw_html_and_scripts_are_shown_as_text_never_as_markup():
    rendered = render_markdown(
        'Bonjour <script>alert("x")</script> <img src=x onerror=alert(1)>\n\n'
        "[clic](javascript:alert(1)) [site](https://example.org)\n"
    )
    html = str(rendered.html)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.org" rel="noreferrer">site</a>' in html


def test_headings_start_under_the_page_title_and_get_anchors_for_the_contents():
    rendered = render_markdown("# Objet\n\ntexte\n\n## Données personnelles\n\n# Suppression\n")
    html = str(rendered.html)
    assert '<h2 id="section-objet">Objet</h2>' in html
    assert '<h3 id="section-donnees-personnelles">Données personnelles</h3>' in html
    assert [(e.level, e.anchor) for e in rendered.toc] == [
        (2, "section-objet"),
        (3, "section-donnees-personnelles"),
        (2, "section-suppression"),
    ]
    assert rendered.has_toc


def test_short_texts_have_no_table_of_contents_and_same_titles_get_distinct_anchors():
    rendered = render_markdown("## Article\n\n## Article\n")
    assert [e.anchor for e in rendered.toc] == ["section-article", "section-article-2"]
    assert not rendered.has_toc


def test_nested_level_can_be_asked_for():
    assert "<h3" in str(render_markdown("## Titre\n", 3).html)


def test_word_diff_marks_additions_and_removals():
    diff = diff_texts("Le chat mange la souris.", "Le gros chat mange une souris.")
    (block,) = diff.items
    assert str(block.html) == "Le <ins>gros</ins> chat mange <del>la</del> <ins>une</ins> souris."
    assert (diff.words_added, diff.words_removed) == (2, 1)


def test_diff_escapes_the_text():
    diff = diff_texts("a", "a <script>b</script>")
    assert "<ins>&lt;script&gt;b&lt;/script&gt;</ins>" in str(diff.items[0].html)


def test_rewrapping_lines_is_not_a_change():
    diff = diff_texts("one two three\nfour", "one two\nthree four")
    assert not diff.changed


def test_unchanged_paragraphs_far_from_changes_are_folded_unless_full():
    old = "\n\n".join(f"Paragraphe {n}." for n in range(10))
    new = old.replace("Paragraphe 8.", "Paragraphe huit.")
    compact = diff_texts(old, new)
    assert isinstance(compact.items[0], Skipped) and compact.items[0].count == 7
    assert compact.blocks_changed == 1
    assert len(diff_texts(old, new, full=True).items) == 10


def test_added_and_removed_paragraphs_are_whole_blocks():
    diff = diff_texts("A\n\nB", "A\n\nC\n\nB\n\nD")
    kinds = [[s.kind for s in b.segments] for b in diff.items]
    assert kinds == [["same"], ["ins"], ["same"], ["ins"]]


def test_a_complete_rewrite_of_a_huge_passage_stays_fast_and_readable():
    old = " ".join(f"ancien{n}" for n in range(MAX_WORD_DIFF + 10))
    new = " ".join(f"nouveau{n}" for n in range(MAX_WORD_DIFF + 10))
    diff = diff_texts(old, new)
    assert diff.words_removed == diff.words_added == MAX_WORD_DIFF + 10
    assert [s.kind for s in diff.items[0].segments] == ["del", "same", "ins"]


def test_the_diff_compares_the_text_as_read_not_its_markdown():
    old = "## Objet\n\n- un **an**\n- deux\n\n1. premier\n"
    new = "## Modération\n\n- un **an**\n- trois\n\n1. premier\n"
    diff = diff_texts(old, new, full=True)
    shown = [(b.kind, str(b.html)) for b in diff.items]
    assert shown == [
        ("heading", "<del>Objet</del> <ins>Modération</ins>"),
        ("item", "• un an"),
        ("item", "• <del>deux</del> <ins>trois</ins>"),
        ("item", "1. premier"),
    ]


def test_changing_only_markdown_emphasis_is_not_a_change_of_words():
    assert not diff_texts("Nous gardons vos données.", "Nous gardons *vos* données.").changed
