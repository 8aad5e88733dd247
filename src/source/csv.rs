//! Importing tracked orders from CSV: `order,service[,quantity]` per line.
//!
//! A header line (any line whose first field is not a number on the first line) is skipped,
//! as are blank lines and lines starting with `#`. Fields may be quoted and padded. The first
//! bad row stops the import with an error naming its line, so a half-read file never passes
//! for a whole one.

/// One row: the order id, its service id, and the ordered quantity when given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsvRow {
    pub order: u64,
    pub service: u64,
    pub quantity: Option<u64>,
}

/// A row that cannot be read, with its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

/// Reads every row of `text`.
pub fn parse(text: &str) -> Result<Vec<CsvRow>, CsvError> {
    let mut out = Vec::new();
    let mut first = true;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim().trim_start_matches('\u{feff}');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed
            .split([',', ';', '\t'])
            .map(|f| f.trim().trim_matches('"').trim())
            .collect();
        let is_header = first && fields[0].parse::<u64>().is_err();
        first = false;
        if is_header {
            continue;
        }
        let fail = |message: String| CsvError { line, message };
        let number = |i: usize, name: &str| -> Result<Option<u64>, CsvError> {
            match fields.get(i).copied() {
                None | Some("") => Ok(None),
                Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
                    let shown: String = text.chars().take(40).collect();
                    fail(format!("{name} {shown:?} is not a whole number"))
                }),
            }
        };
        if fields.len() > 3 {
            return Err(fail(format!(
                "{} columns; expected order,service[,quantity]",
                fields.len()
            )));
        }
        let order = number(0, "order")?.ok_or_else(|| fail("no order id".into()))?;
        let service = number(1, "service")?
            .ok_or_else(|| fail(format!("order {order} has no service id")))?;
        let quantity = number(2, "quantity")?;
        out.push(CsvRow {
            order,
            service,
            quantity,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_headers_and_comments() {
        let text = "order,service,quantity\n# placed today\n23501, 17, 1000\n\n\"23502\";\"18\"\n";
        let rows = parse(text).unwrap();
        assert_eq!(
            rows,
            vec![
                CsvRow {
                    order: 23501,
                    service: 17,
                    quantity: Some(1000)
                },
                CsvRow {
                    order: 23502,
                    service: 18,
                    quantity: None
                },
            ]
        );
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let cases = [
            ("order,service\n1,2\n3\n", 3, "no service id"),
            ("1,2\nx,2\n", 2, "not a whole number"),
            ("1,2\n3,-4\n", 2, "not a whole number"),
            ("1,2,3,4\n", 1, "columns"),
        ];
        for (text, line, words) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(err.message.contains(words), "{err}");
        }
    }
}
