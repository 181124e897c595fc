// Package takedown holds the domain of takedownd: the report the analyst
// tool sends, the case it becomes, the states a case moves through and the
// events that make up its audit trail. It imports nothing of ours, so every
// stage can share these types without importing each other.
package takedown
