//! Lookups by words: how a person's search ("Alan Turing", "turing") meets the values the log
//! has seen, without an index that is a plaintext copy of them.
//!
//! A text is cut into whole words ([`words`]: split on anything that is not a letter or a digit,
//! lower-cased, only words with a letter, an email's domain left out, a text of digits kept
//! whole), and each word is filed and looked up by its digest ([`term_digest`]), never by
//! the word itself. The `word_index` projection stores only digests; a search digests the words
//! it is given the same way and reads the rows filed under each.
//!
//! [`term_digest`] is the one function that turns a word into a digest: an unkeyed SHA-256, the
//! same construction `match_index` uses for match-key values
//! ([`crate::mapping::match_value_hash`]). When values are sealed, the store keys it with the
//! tenant's key as it writes the row and as a search reads
//! ([`crate::privacy::keyed_sort_key`], docs/privacy.md), so a word cannot be confirmed by
//! hashing guesses.

use sha2::{Digest, Sha256};

/// Most words filed per field of a record, and most words of a search: a name or a title has a
/// few; a long free text is filed by its first words only.
pub const MAX_WORDS: usize = 8;

/// The distinct whole words of `text`, in order of first appearance, lower-cased; at most
/// [`MAX_WORDS`]. `"Alan  Turing"` and `"alan.turing@example.com"` both hold `alan`, `turing`.
///
/// What a person searches a customer by, and no more (issue 32: every word is a row written
/// again at each sighting of the record):
/// - A word holds at least one letter. A number inside a text ("10 Downing Street") says little
///   of whom it belongs to.
/// - An email's domain is not a word: the text is cut at its first `@` (`example`, `com` would
///   file every customer of a domain under the same rows).
/// - A text without letters (a phone number, an account number) is one word: its digits, so
///   `"+44 20 7946 0958"` and `"442079460958"` find each other.
pub fn words(text: &str) -> Vec<String> {
    if !text.chars().any(char::is_alphabetic) {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        return if digits.is_empty() {
            Vec::new()
        } else {
            vec![digits]
        };
    }
    let local = text.split('@').next().unwrap_or(text);
    let mut found: Vec<String> = Vec::new();
    for word in local.split(|c: char| !c.is_alphanumeric()) {
        if !word.chars().any(char::is_alphabetic) {
            continue;
        }
        let word = word.to_lowercase();
        if !found.contains(&word) {
            found.push(word);
            if found.len() == MAX_WORDS {
                break;
            }
        }
    }
    found
}

/// What the index files a word under (and a search looks it up by): a digest, never the word.
/// `term` is a word as [`words`] gives it. See the module doc: the store keys it.
pub fn term_digest(term: &str) -> String {
    hex::encode(&Sha256::digest(term.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_its_lower_cased_whole_words() {
        assert_eq!(words("  Alan  Turing "), ["alan", "turing"]);
        assert_eq!(words("alan.turing@Example.com"), ["alan", "turing"]);
        assert_eq!(words("Zoë O'Brien-Smith"), ["zoë", "o", "brien", "smith"]);
    }

    #[test]
    fn numbers_inside_a_text_are_not_words_and_a_text_of_digits_is_one() {
        assert_eq!(words("10 Downing Street"), ["downing", "street"]);
        assert_eq!(words("221B Baker Street"), ["221b", "baker", "street"]);
        assert_eq!(words("+44 20 7946 0958"), ["442079460958"]);
        assert_eq!(words("442079460958"), words("(44) 2079-460958"));
        assert!(words("+-()").is_empty());
    }

    #[test]
    fn repeated_words_count_once_and_long_texts_are_cut() {
        assert_eq!(words("Ada ada ADA"), ["ada"]);
        assert_eq!(words("a b c d e f g h i j").len(), MAX_WORDS);
        assert!(words(" -- ").is_empty());
    }

    #[test]
    fn the_digest_is_stable_and_is_not_the_word() {
        assert_eq!(term_digest("turing"), term_digest("turing"));
        assert_ne!(term_digest("turing"), term_digest("alan"));
        assert!(!term_digest("turing").contains("turing"));
        assert_eq!(term_digest("turing").len(), 32);
    }
}
