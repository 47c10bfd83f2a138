//! Name helpers shared by the derive's runtime side, the autodetector and the file layout.
//!
//! # Examples
//!
//! The default table of a model is the snake case of its name:
//!
//! ```
//! use chakra::naming::snake_case;
//!
//! assert_eq!(snake_case("BlogPost"), "blog_post");
//! ```

/// `BlogPost` -> `blog_post`, `HTTPServer` -> `http_server`.
///
/// # Examples
///
/// ```
/// use chakra::naming::snake_case;
///
/// assert_eq!(snake_case("HTTPServer"), "http_server");
/// assert_eq!(snake_case("Order2Item"), "order2_item");
/// assert_eq!(snake_case("already_snake"), "already_snake");
/// ```
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_handles_acronyms_and_digits() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("BlogPost"), "blog_post");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Order2Item"), "order2_item");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }
}
