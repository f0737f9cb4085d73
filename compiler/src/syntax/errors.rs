//! Pest errors to `seam::syntax` diagnostics in the user's words.
//!
//! pest reports the furthest position it reached and the rules it tried there. We turn that
//! into "expected X, found Y": X from [`describe`] (a table from grammar rules to words a user
//! knows, exhaustive so that a new rule cannot leak its name), Y from the token actually at the
//! position (`lexical::token_at`), and the primary span covers that whole token.

use super::lexical::{self, Token, KEYWORDS};
use super::Rule;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::span::{LineIndex, Span};
use pest::error::{ErrorVariant, InputLocation};

/// A diagnostic for a parse tree that does not have the shape the grammar promises. It should
/// never be seen; it exists so that a grammar/converter mismatch is an error, not a panic.
pub(crate) fn internal(what: &str, at: usize) -> Diagnostic {
    Diagnostic::error(
        Code::Syntax,
        format!("internal parser error: {what}"),
        Span::new(at, at),
    )
    .with_help("this is a bug in seam; please report it with the file that triggers it")
}

/// The words for one grammar rule in an "expected ..." list.
fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::kw_seam | Rule::seam_decl => "`seam`",
        Rule::kw_system | Rule::system_decl => "`system`",
        Rule::kw_object | Rule::object_decl => "`object`",
        Rule::kw_identity | Rule::identity_decl => "`identity`",
        Rule::kw_own | Rule::own_decl => "`own`",
        Rule::kw_link | Rule::link_decl => "`link`",
        Rule::kw_workflow | Rule::workflow_decl => "`workflow`",
        Rule::kw_policy | Rule::policy_decl => "`policy`",
        Rule::kw_key | Rule::link_key => "`key`",
        Rule::kw_open | Rule::open_rule | Rule::open_step => "`open`",
        Rule::kw_let | Rule::let_step => "`let`",
        Rule::kw_on | Rule::trigger => "`on`",
        Rule::kw_when | Rule::guard => "`when`",
        Rule::kw_do | Rule::do_block => "`do`",
        Rule::kw_becomes | Rule::becomes => "`becomes`",
        Rule::kw_changes => "`changes`",
        Rule::kw_created => "`created`",
        Rule::kw_map | Rule::value_map => "`map`",
        Rule::kw_via | Rule::via_clause => "`via`",
        Rule::kw_unique => "`unique`",
        Rule::kw_from | Rule::derived => "`from`",
        Rule::kw_env | Rule::env_call => "`env(\"...\")`",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_in | Rule::in_list => "`in`",
        Rule::kw_true | Rule::kw_false | Rule::boolean => "`true` or `false`",
        Rule::keyword => "a keyword",
        Rule::w_create => "`create`",
        Rule::w_update => "`update`",
        Rule::w_retry | Rule::retry_item => "`retry`",
        Rule::w_attempts => "`attempts`",
        Rule::w_backoff => "`backoff`",
        Rule::w_dead_letter | Rule::dead_letter_item => "`dead_letter`",
        Rule::w_after => "`after`",
        Rule::w_alert | Rule::alert_item => "`alert`",
        Rule::w_reconcile | Rule::reconcile_item => "`reconcile`",
        Rule::w_every => "`every`",
        Rule::w_text | Rule::text_type => "`text`",
        Rule::w_number => "`number`",
        Rule::w_bool => "`bool`",
        Rule::w_datetime => "`datetime`",
        Rule::w_id => "`id`",
        Rule::w_ref | Rule::ref_type => "`ref`",
        Rule::w_picklist | Rule::picklist_type => "`picklist`",
        Rule::ident | Rule::member => "a name",
        Rule::path => "a path",
        Rule::literal | Rule::expr => "a value",
        Rule::string | Rule::str_inner => "a string",
        Rule::duration => "a duration (like `30s` or `5m`)",
        Rule::number => "a number",
        Rule::int => "a whole number",
        Rule::biarrow => "`<->`",
        Rule::arrow => "`->`",
        Rule::fat_arrow => "`=>`",
        Rule::cmp_op => "a comparison operator (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
        Rule::assign => "`=`",
        Rule::colon => "`:`",
        Rule::dotdot => "`..`",
        Rule::star => "`*`",
        Rule::default_arm => "`_`",
        Rule::comma | Rule::backoff => "`,`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::file => DECLARATION_WORDS,
        Rule::setting | Rule::policy_setting => "a setting (`name = value`)",
        Rule::object_ref => "an object (`system.Object`)",
        Rule::field_decl => "a field (`Name: type`)",
        Rule::type_expr => {
            "a field type (`text`, `number`, `bool`, `datetime`, `id`, `ref(...)`, `picklist(...)`)"
        }
        Rule::own_entry => "a field (`Object.field` or `Object.*`)",
        Rule::mapping => "a mapping (`a.Object.field -> b.Object.field`)",
        Rule::map_arm => "a map arm (`\"a\" => \"b\"`)",
        Rule::record_step | Rule::record_action => "`SYS.create` or `SYS.update`",
        Rule::assignment => "an assignment (`field = value`)",
        Rule::call | Rule::call_target => "an action call (`system.action(...)`)",
        Rule::named_arg => "an argument (`name = value`)",
        Rule::func_call => "a function call",
        Rule::cond | Rule::group | Rule::comparison => "a condition",
        Rule::operand => "a path or a value",
        Rule::EOI => "end of file",
        // Silent rules: pest never reports them, but the table stays exhaustive.
        Rule::item => "a declaration",
        Rule::link_item => "a link entry",
        Rule::step => "a step",
        Rule::policy_item => "a policy entry",
        Rule::cond_primary => "a condition",
        Rule::ident_char => "a letter, digit or `_`",
        Rule::reserved => "a keyword",
        Rule::WHITESPACE | Rule::COMMENT => "a space",
    }
}

/// The top-level keywords: when pest tried all of them, say "a declaration" once.
const DECLARATIONS: [Rule; 7] = [
    Rule::kw_system,
    Rule::kw_object,
    Rule::kw_identity,
    Rule::kw_own,
    Rule::kw_link,
    Rule::kw_workflow,
    Rule::kw_policy,
];

const DECLARATION_WORDS: &str =
    "a declaration (`system`, `object`, `identity`, `own`, `link`, `workflow`, `policy`)";

/// The "expected ..." words for what pest tried, grouped where a group reads better.
fn expected_words(positives: &[Rule]) -> Vec<&'static str> {
    let has = |r: Rule| positives.contains(&r);
    let mut rules: Vec<Rule> = positives.to_vec();
    let mut words: Vec<&'static str> = Vec::new();
    if has(Rule::file) || DECLARATIONS.iter().all(|r| has(*r)) {
        rules.retain(|r| {
            !DECLARATIONS.contains(r) && !matches!(r, Rule::kw_seam | Rule::EOI | Rule::file)
        });
        words.push(DECLARATION_WORDS);
    }
    if has(Rule::kw_let) && has(Rule::kw_open) {
        rules.retain(|r| {
            !matches!(
                r,
                Rule::kw_let
                    | Rule::kw_open
                    | Rule::ident
                    | Rule::record_step
                    | Rule::record_action
                    | Rule::call
                    | Rule::call_target
            )
        });
        words.push("a step (`open`, `let`, `SYS.create`, `SYS.update` or `SYS.action(...)`)");
    }
    if has(Rule::kw_key) && has(Rule::kw_open) {
        rules.retain(|r| *r != Rule::ident);
        rules.push(Rule::mapping);
    }
    if has(Rule::w_retry) && has(Rule::w_alert) {
        rules.retain(|r| {
            !matches!(
                r,
                Rule::w_retry
                    | Rule::w_dead_letter
                    | Rule::w_alert
                    | Rule::w_reconcile
                    | Rule::ident
                    | Rule::policy_setting
            )
        });
        words.push("a policy entry (`retry`, `dead_letter`, `alert`, `reconcile`)");
    }
    if has(Rule::rbrace) || has(Rule::rparen) || has(Rule::rbracket) {
        // Optional separators are noise next to the closing bracket.
        if has(Rule::rbrace) {
            rules.retain(|r| *r != Rule::comma);
        }
    }
    for r in rules {
        let w = describe(r);
        if !words.contains(&w) {
            words.push(w);
        }
    }
    // Closing brackets and end of file read best last.
    words.sort_by_key(|w| matches!(*w, "`}`" | "`)`" | "`]`" | "end of file"));
    words
}

/// `a`, `a or b`, `a, b or c`
fn one_of(words: &[&str]) -> String {
    match words {
        [] => String::from("something else"),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn found_words(token: &Token) -> String {
    match token {
        Token::EndOfFile => "end of file".to_string(),
        Token::Word(w) | Token::Other(w) => {
            if w.chars().count() > 40 {
                let short: String = w.chars().take(37).collect();
                format!("`{short}...`")
            } else {
                format!("`{w}`")
            }
        }
        Token::UnterminatedString => "an unterminated string".to_string(),
        Token::BadEscape(e, _) => format!("`{e}`"),
    }
}

/// Converts a pest error on `src` into a `seam::syntax` diagnostic.
pub(crate) fn from_pest(src: &str, err: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let (token, span) = lexical::token_at(src, pos);
    let positives: Vec<Rule> = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    if let Some(d) = lexical_problem(&token, span) {
        return d;
    }
    let expected = expected_words(&positives);
    let found = found_words(&token);
    let wants_name = positives
        .iter()
        .any(|r| matches!(r, Rule::ident | Rule::path | Rule::member));
    if let Token::Word(w) = &token {
        // A declaration keyword where a block should have been closed is a missing `}`, not a
        // misused reserved word.
        let missing_brace = positives.contains(&Rule::rbrace) && is_declaration_keyword(w);
        if wants_name && KEYWORDS.contains(&w.as_str()) && !missing_brace {
            return reserved_word(w, span, &expected);
        }
    }
    let message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", one_of(&expected))
    };
    let label = match expected.as_slice() {
        [one] => format!("expected {one}"),
        _ => "unexpected here".to_string(),
    };
    let diag = Diagnostic::error(Code::Syntax, message, span).with_label(label);
    add_help(diag, src, pos, &token, &positives)
}

/// Problems inside a token, which say more than "expected ...".
fn lexical_problem(token: &Token, span: Span) -> Option<Diagnostic> {
    match token {
        Token::UnterminatedString => Some(
            Diagnostic::error(Code::Syntax, "unterminated string", span)
                .with_label("this string has no closing `\"`")
                .with_help("add the closing `\"`; a string cannot span lines (write `\\n` for a line break)"),
        ),
        Token::BadEscape(esc, esc_span) => Some(
            Diagnostic::error(Code::Syntax, format!("unknown escape `{esc}` in a string"), *esc_span)
                .with_label("unknown escape")
                .with_help("a string may use `\\\"`, `\\\\` and `\\n`; write `\\\\` for a backslash"),
        ),
        _ => None,
    }
}

fn reserved_word(word: &str, span: Span, expected: &[&str]) -> Diagnostic {
    Diagnostic::error(
        Code::Syntax,
        format!("`{word}` is a reserved word and cannot be used as a name"),
        span,
    )
    .with_label(format!("expected {}", one_of(expected)))
    .with_help(format!(
        "choose another name; reserved words are allowed only after a dot (as in `sf.Case.{word}`)"
    ))
}

/// A `help` line (and a secondary label) where the situation says something useful.
fn add_help(
    diag: Diagnostic,
    src: &str,
    pos: usize,
    token: &Token,
    positives: &[Rule],
) -> Diagnostic {
    let has = |r: Rule| positives.contains(&r);
    let found = match token {
        Token::Word(w) | Token::Other(w) => w.as_str(),
        _ => "",
    };
    let at_decl_or_end = matches!(token, Token::EndOfFile)
        || KEYWORDS.contains(&found)
            && matches!(
                found,
                "system" | "object" | "identity" | "own" | "link" | "workflow" | "policy" | "seam"
            );
    if has(Rule::rbrace) && at_decl_or_end {
        if let Some(open) = lexical::unclosed_brace(src, pos, b'{', b'}') {
            let (line, _) = LineIndex::new(src).line_col(open);
            return diag
                .with_secondary(Span::new(open, open + 1), "this block is never closed")
                .with_help(format!(
                    "add a `}}` to close the block opened on line {line}"
                ));
        }
    }
    let separator_missing = (has(Rule::comma) || has(Rule::backoff))
        && (has(Rule::rparen) || has(Rule::rbracket))
        && !matches!(found, "}" | "" | ")" | "]")
        && !at_decl_or_end;
    if separator_missing {
        return diag.with_help("inside `( )` and `[ ]`, items are separated by commas");
    }
    if has(Rule::rparen) {
        if let Some(open) = lexical::unclosed_brace(src, pos, b'(', b')') {
            return diag
                .with_secondary(Span::new(open, open + 1), "this `(` is never closed")
                .with_help("add the missing `)`");
        }
    }
    if has(Rule::cmp_op) && found == "=" {
        return diag.with_help("use `==` to compare; `=` assigns a value");
    }
    if has(Rule::biarrow) && found == "->" {
        return diag.with_help("keys and identities match both sides, so they use `<->`");
    }
    if has(Rule::arrow) && found == "=" {
        return diag.with_help("a mapping is written `source -> target`");
    }
    if has(Rule::arrow) && found == "<->" {
        return diag.with_help(
            "a mapping copies one way, so it uses `->`; `<->` is for `key` and `identity`",
        );
    }
    if has(Rule::assign) && found == "==" {
        return diag.with_help("use `=` to give a value; `==` compares");
    }
    if has(Rule::assign) && found == ":" {
        return diag.with_help("settings and arguments are written `name = value`");
    }
    if has(Rule::colon) && found == "=" {
        return diag.with_help("fields are declared as `Name: type`");
    }
    if has(Rule::file) || DECLARATIONS.iter().all(|r| has(*r)) {
        return diag
            .with_help("a `.seam` file is a list of declarations, each starting with its keyword");
    }
    diag
}

fn is_declaration_keyword(word: &str) -> bool {
    matches!(
        word,
        "seam" | "system" | "object" | "identity" | "own" | "link" | "workflow" | "policy"
    )
}
