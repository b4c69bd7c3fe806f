//! The release at a glance for people: a table for a terminal and a self-contained HTML page
//! for CI to publish. Both show the same cells: every id whole (a table too wide for the
//! terminal is printed in bands of environments, never cut), each cell's relation to the
//! environment before it, and nothing but artifacts.

use crate::relation::Relation;
use crate::release::{Cell, Kind, Row};
use serde_json::Value as Json;
use shared::config::Project;

/// The lines of one cell: what it holds, whole ids each on a line of its own.
fn holds(kind: Kind, cell: &Cell) -> Vec<String> {
    let artifact = match &cell.read {
        Err(e) => {
            let mut lines = vec!["error:".to_string()];
            lines.extend(wrap(&e.to_string(), 40));
            return lines;
        }
        Ok(None) => return vec!["(missing)".to_string()],
        Ok(Some((artifact, _))) => artifact,
    };
    let text = |key: &str| {
        artifact
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or("-")
            .to_string()
    };
    let mut lines = Vec::new();
    match kind {
        Kind::Lambda => {
            lines.push(format!("version {}", text("version")));
            lines.push("code_sha256".to_string());
            lines.push(text("code_sha256"));
            if let Some(Json::Object(weights)) = artifact.get("weights") {
                for (version, weight) in weights {
                    let percent = weight.as_f64().unwrap_or(0.0) * 100.0;
                    lines.push(format!("canary: version {version} at {percent}%"));
                }
            }
        }
        Kind::Stepfunctions => {
            lines.push(format!("version {}", text("version")));
            lines.push("definition_sha256".to_string());
            lines.push(text("definition_sha256"));
            if let Some(Json::Object(weights)) = artifact.get("weights") {
                for (version, percent) in weights {
                    lines.push(format!("canary: version {version} at {percent}%"));
                }
            }
        }
        Kind::Ecs => {
            lines.push("task_definition".to_string());
            lines.push(text("task_definition"));
            for image in artifact
                .get("images")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let field = |k: &str| image.get(k).and_then(Json::as_str).unwrap_or("-");
                lines.push(format!("container {}", field("container")));
                lines.push(field("digest").to_string());
            }
        }
        Kind::Apigateway => {
            lines.push(format!("deployment {}", text("deployment_id")));
            if let Some(canary) = artifact.get("canary") {
                let id = canary
                    .get("deployment_id")
                    .and_then(Json::as_str)
                    .unwrap_or("-");
                let percent = canary.get("percent").and_then(Json::as_f64).unwrap_or(0.0);
                lines.push(format!("canary: {id} at {percent}%"));
            }
        }
        Kind::S3 => {
            lines.push("version_id".to_string());
            lines.push(text("version_id"));
            lines.push(format!("etag {}", text("etag")));
            if let Some(checksum) = artifact.get("checksum").and_then(Json::as_str) {
                lines.push(checksum.to_string());
            }
        }
    }
    lines
}

/// `text` in lines of at most `width` characters, broken between words only (a long word, an
/// id, stays whole on a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// How a cell stands to the environment before it, in words.
fn relation_text(relation: Relation, before: &str) -> String {
    match relation {
        Relation::Same => format!("same as {before}"),
        Relation::Behind => format!("behind {before}"),
        Relation::Ahead => format!("ahead of {before}"),
        Relation::Drifted => format!("drifted from {before}"),
        Relation::Missing => "missing".to_string(),
        Relation::Unknown => "unknown".to_string(),
    }
}

fn pointer_lines(row: &Row) -> Vec<String> {
    let p = &row.pointer;
    let mut lines = vec![p.kind.as_str().to_string(), p.resource()];
    let pointer = p.pointer();
    match p.kind {
        Kind::Lambda | Kind::Stepfunctions => lines.push(format!("alias {pointer}")),
        Kind::Apigateway => lines.push(format!("stage {pointer}")),
        Kind::Ecs | Kind::S3 => {}
    }
    lines
}

/// Where each environment was read (account and region), from the first row that says.
fn places(rows: &[Row], order: &[String]) -> Vec<String> {
    order
        .iter()
        .enumerate()
        .map(|(i, _)| {
            rows.iter()
                .filter_map(|r| r.cells.get(i))
                .find(|c| c.account.is_some() || c.region.is_some())
                .map(|c| {
                    format!(
                        "{} {}",
                        c.account.as_deref().unwrap_or("?"),
                        c.region.as_deref().unwrap_or("?")
                    )
                })
                .unwrap_or_default()
        })
        .collect()
}

/// ANSI colour of a relation in the table.
fn colour(relation: Relation) -> &'static str {
    match relation {
        Relation::Same => "32",
        Relation::Behind => "33",
        Relation::Ahead | Relation::Drifted | Relation::Missing => "31",
        Relation::Unknown => "35",
    }
}

/// The table: a column per environment, a block of lines per pointer. When `width` (the
/// terminal's) cannot hold every environment, the environments are printed in bands, each
/// repeating the pointer column; ids are never cut.
#[must_use]
pub fn table(rows: &[Row], order: &[String], paint: bool, width: Option<usize>) -> String {
    // Each cell: its lines, and the relation its last line shows (to paint it).
    let places = places(rows, order);
    let mut header: Vec<Vec<String>> = vec![vec!["POINTER".to_string(), String::new()]];
    for (env, place) in order.iter().zip(&places) {
        header.push(vec![env.to_uppercase(), place.clone()]);
    }
    let body: Vec<Vec<(Vec<String>, Option<Relation>)>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![(pointer_lines(row), None)];
            for (i, cell) in row.cells.iter().enumerate() {
                let mut lines = holds(row.pointer.kind, cell);
                if let Some(relation) = cell.relation {
                    lines.push(relation_text(relation, &order[i - 1]));
                }
                cells.push((lines, cell.relation));
            }
            cells
        })
        .collect();
    let columns = order.len() + 1;
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            header[c]
                .iter()
                .chain(body.iter().flat_map(|r| r[c].0.iter()))
                .map(|l| l.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Too wide for the terminal: each pointer's name goes on a line of its own above its row,
    // and the environments' columns in bands that fit (a column is never cut: one wider than the
    // terminal is printed whole and the terminal wraps it).
    let total: usize = widths.iter().map(|w| w + 2).sum();
    let stacked = width.is_some_and(|w| total > w);
    let first = usize::from(stacked);
    let mut bands: Vec<Vec<usize>> = Vec::new();
    let mut used = if stacked { 0 } else { widths[0] + 2 };
    for c in 1..columns {
        let fits = width.is_none_or(|w| used + widths[c] <= w);
        match bands.last_mut() {
            Some(band) if fits => band.push(c),
            _ => {
                bands.push(vec![c]);
                used = if stacked { 0 } else { widths[0] + 2 };
            }
        }
        used += widths[c] + 2;
    }
    let mut out: Vec<String> = Vec::new();
    for band in &bands {
        if !out.is_empty() {
            out.push(String::new());
        }
        let shown: Vec<usize> = (first..1).chain(band.iter().copied()).collect();
        let block = |cells: &[(Vec<String>, Option<Relation>)], out: &mut Vec<String>| {
            let height = shown.iter().map(|&c| cells[c].0.len()).max().unwrap_or(0);
            for l in 0..height {
                let mut line = String::new();
                for (n, &c) in shown.iter().enumerate() {
                    let (lines, relation) = &cells[c];
                    let text = lines.get(l).map_or("", String::as_str);
                    let pad = widths[c].saturating_sub(text.chars().count());
                    let last = n + 1 == shown.len();
                    match relation {
                        // The relation is a cell's last line: painted once laid out.
                        Some(r) if paint && l + 1 == lines.len() => {
                            line.push_str(&format!("\x1b[{}m{text}\x1b[0m", colour(*r)));
                        }
                        _ => line.push_str(text),
                    }
                    if !last {
                        line.push_str(&" ".repeat(pad + 2));
                    }
                }
                out.push(line.trim_end().to_string());
            }
        };
        let head: Vec<(Vec<String>, Option<Relation>)> =
            header.iter().map(|h| (h.clone(), None)).collect();
        block(&head, &mut out);
        for cells in &body {
            out.push(String::new());
            if stacked {
                out.push(cells[0].0.join(" "));
            }
            block(cells, &mut out);
        }
    }
    out.join("\n")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .3rem 0; }
p.meta { color: #59636e; margin: 0 0 1.2rem 0; }
table.release { border-collapse: collapse; width: 100%; table-layout: auto; }
table.release th, table.release td { border: 1px solid #d1d9e0; padding: .45rem .6rem; vertical-align: top; text-align: left; }
table.release thead th { background: #f6f8fa; }
th .place { display: block; font-weight: normal; color: #59636e; font-size: .8rem; }
th.pointer .kind { display: inline-block; font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: #59636e; }
code, .id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8rem; overflow-wrap: anywhere; }
.id { display: block; }
.label { display: block; color: #59636e; font-size: .75rem; margin-top: .2rem; }
.relation { display: inline-block; margin-top: .35rem; padding: .05rem .45rem; border-radius: .6rem; font-size: .8rem; font-weight: 600; }
td.relation-first { background: #ffffff; }
td.relation-same { background: #dafbe1; } td.relation-same .relation { background: #1a7f37; color: #fff; }
td.relation-behind { background: #fff8c5; } td.relation-behind .relation { background: #9a6700; color: #fff; }
td.relation-ahead { background: #ffebe9; } td.relation-ahead .relation { background: #cf222e; color: #fff; }
td.relation-drifted { background: #ffd8d3; } td.relation-drifted .relation { background: #a40e26; color: #fff; }
td.relation-missing { background: #eaeef2; } td.relation-missing .relation { background: #59636e; color: #fff; }
td.relation-unknown { background: #fbefff; } td.relation-unknown .relation { background: #8250df; color: #fff; }
td .error { color: #a40e26; }
ul.summary { margin: 0 0 .8rem 0; padding-left: 1.2rem; }
ul.legend { list-style: none; padding: 0; margin: 0 0 1rem 0; display: flex; flex-wrap: wrap; gap: .5rem 1.4rem; font-size: .85rem; }
ul.legend li span.swatch { display: inline-block; width: .9rem; height: .9rem; border-radius: .2rem; vertical-align: -.1rem; margin-right: .35rem; border: 1px solid #d1d9e0; }
";

fn swatch(relation: Relation) -> &'static str {
    match relation {
        Relation::Same => "#dafbe1",
        Relation::Behind => "#fff8c5",
        Relation::Ahead => "#ffebe9",
        Relation::Drifted => "#ffd8d3",
        Relation::Missing => "#eaeef2",
        Relation::Unknown => "#fbefff",
    }
}

/// The page: inline CSS only, no script, no external asset; each cell's class is
/// `relation-RELATION` (`relation-first` for the first environment).
#[must_use]
pub fn html(rows: &[Row], order: &[String], project: &Project) -> String {
    let places = places(rows, order);
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>Release at a glance</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<h1>Release at a glance</h1>\n");
    page.push_str(&format!(
        "<p class=\"meta\">{} · order: {} · each environment compared with the one before it</p>\n",
        escape(&project.path.display().to_string()),
        escape(&order.join(" → "))
    ));
    page.push_str(&summary(rows, order));
    page.push_str("<ul class=\"legend\">\n");
    for relation in Relation::ALL {
        page.push_str(&format!(
            "<li class=\"legend-{}\"><span class=\"swatch\" style=\"background: {}\"></span><strong>{}</strong>: {}</li>\n",
            relation.as_str(),
            swatch(relation),
            relation.as_str(),
            escape(relation.meaning())
        ));
    }
    page.push_str("</ul>\n");
    page.push_str("<table class=\"release\">\n<thead>\n<tr><th>Pointer</th>");
    for (env, place) in order.iter().zip(&places) {
        page.push_str(&format!(
            "<th class=\"env\">{}<span class=\"place\">{}</span></th>",
            escape(env),
            escape(place)
        ));
    }
    page.push_str("</tr>\n</thead>\n<tbody>\n");
    for row in rows {
        let lines = pointer_lines(row);
        page.push_str("<tr><th class=\"pointer\">");
        page.push_str(&format!(
            "<span class=\"kind\">{}</span>",
            escape(&lines[0])
        ));
        for line in &lines[1..] {
            page.push_str(&format!("<code class=\"id\">{}</code>", escape(line)));
        }
        page.push_str("</th>");
        for (i, cell) in row.cells.iter().enumerate() {
            let class = cell.relation.map_or("first", Relation::as_str);
            let title = cell
                .note
                .as_deref()
                .map_or(String::new(), |n| format!(" title=\"{}\"", escape(n)));
            page.push_str(&format!(
                "<td class=\"relation-{class}\" data-env=\"{}\"{title}>",
                escape(&cell.env)
            ));
            page.push_str(&cell_html(row.pointer.kind, cell));
            if let Some(relation) = cell.relation {
                page.push_str(&format!(
                    "<span class=\"relation\">{}</span>",
                    escape(&relation_text(relation, &order[i - 1]))
                ));
            }
            page.push_str("</td>");
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody>\n</table>\n");
    page.push_str("</body>\n</html>\n");
    page
}

/// One line per environment after the first: how many pointers stand how to the one before.
fn summary(rows: &[Row], order: &[String]) -> String {
    let mut out = String::from("<ul class=\"summary\">\n");
    for (i, env) in order.iter().enumerate().skip(1) {
        let counts: Vec<String> = Relation::ALL
            .iter()
            .filter_map(|r| {
                let n = rows
                    .iter()
                    .filter(|row| row.cells.get(i).and_then(|c| c.relation) == Some(*r))
                    .count();
                (n > 0).then(|| format!("{n} {}", r.as_str()))
            })
            .collect();
        out.push_str(&format!(
            "<li><strong>{}</strong> against {}: {}</li>\n",
            escape(env),
            escape(&order[i - 1]),
            escape(&counts.join(", "))
        ));
    }
    out.push_str("</ul>\n");
    out
}

/// A cell's content: labels as labels, ids in monospace, each whole.
fn cell_html(kind: Kind, cell: &Cell) -> String {
    match &cell.read {
        Err(e) => {
            return format!(
                "<span class=\"error\">error: {}</span><br>",
                escape(&e.to_string())
            )
        }
        Ok(None) => return "<span class=\"label\">(missing)</span>".to_string(),
        Ok(Some(_)) => {}
    }
    let mut out = String::new();
    let mut label = true;
    for line in holds(kind, cell) {
        // Every label line is followed by its id (`code_sha256`, then the hash); "version 3",
        // "deployment X" and "etag X" carry theirs after a space.
        let lone_label = matches!(
            line.as_str(),
            "code_sha256" | "task_definition" | "version_id"
        );
        if lone_label {
            out.push_str(&format!("<span class=\"label\">{}</span>", escape(&line)));
            label = false;
            continue;
        }
        match line.split_once(' ') {
            Some((name, id)) if label && !line.starts_with("canary") => out.push_str(&format!(
                "<span class=\"label\">{}</span><code class=\"id\">{}</code>",
                escape(name),
                escape(id)
            )),
            _ => out.push_str(&format!("<code class=\"id\">{}</code>", escape(&line))),
        }
        label = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relation::LambdaHeld;
    use crate::release::{pointers, Facts};
    use serde_json::json;

    fn rows() -> (Vec<Row>, Vec<String>, Project) {
        let project = Project::parse(
            std::path::Path::new("promote.toml"),
            "[envs]\norder = [\"staging\", \"prod\"]\n\n[lambda]\nfunctions = [\"orders-api\"]\n",
        )
        .unwrap();
        let cell = |env: &str, version: &str, code: &str, relation| Cell {
            env: env.into(),
            resource: "orders-api".into(),
            pointer: env.into(),
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            read: Ok(Some((
                json!({"version": version, "code_sha256": code}),
                Facts::Lambda(LambdaHeld {
                    function: "orders-api".into(),
                    version: version.into(),
                    code_sha256: code.into(),
                }),
            ))),
            note: None,
            relation,
            at: None,
        };
        let staging = "h/DyhkQgjhbQwyJpXlj8ZvRsH0u9NQfQbZKK9pKntRM=";
        let prod = "B84n3Ir7KWRYs02Gx81FVfOKhu+9TV2tJyAzT4a8mpw=";
        let row = Row {
            pointer: pointers(&project).remove(0),
            cells: vec![
                cell("staging", "8", staging, None),
                cell("prod", "3", prod, Some(Relation::Behind)),
            ],
        };
        (vec![row], project.order.clone(), project)
    }

    #[test]
    fn a_narrow_terminal_gets_bands_with_every_id_whole() {
        let (rows, order, _) = rows();
        let wide = table(&rows, &order, false, None);
        assert!(
            wide.lines().next().unwrap().starts_with("POINTER"),
            "{wide}"
        );
        assert!(wide.contains("behind staging"));
        let narrow = table(&rows, &order, false, Some(50));
        for id in [
            "h/DyhkQgjhbQwyJpXlj8ZvRsH0u9NQfQbZKK9pKntRM=",
            "B84n3Ir7KWRYs02Gx81FVfOKhu+9TV2tJyAzT4a8mpw=",
        ] {
            assert!(narrow.contains(id), "{narrow}");
        }
        assert!(narrow.lines().all(|l| l.chars().count() <= 50), "{narrow}");
        assert!(narrow.contains("lambda orders-api alias {env}"), "{narrow}");
        assert!(!narrow.contains('…'));
    }

    #[test]
    fn only_the_relation_is_painted() {
        let (rows, order, _) = rows();
        let painted = table(&rows, &order, true, None);
        assert!(
            painted.contains("\x1b[33mbehind staging\x1b[0m"),
            "{painted:?}"
        );
        assert_eq!(painted.matches("\x1b[").count(), 2, "{painted:?}");
    }

    #[test]
    fn the_page_escapes_and_classes_every_cell() {
        let (mut rows, order, project) = rows();
        rows[0].cells[1].note = Some("a <b> & \"c\"".into());
        let page = html(&rows, &order, &project);
        assert!(
            page.contains("title=\"a &lt;b&gt; &amp; &quot;c&quot;\""),
            "{page}"
        );
        assert!(page.contains("<td class=\"relation-first\" data-env=\"staging\""));
        assert!(page.contains("<td class=\"relation-behind\" data-env=\"prod\""));
        assert!(page.contains("<strong>prod</strong> against staging: 1 behind"));
        assert!(!page.contains("<script"));
    }

    #[test]
    fn words_wrap_and_ids_stay_whole() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        let id = "x".repeat(12);
        assert_eq!(
            wrap(&format!("see {id} now"), 5),
            ["see", id.as_str(), "now"]
        );
    }
}
