// Command mainpkg is a main package, which no graph can use as its handlers
// package; the generator's tests name it to check that dge says so.
package main

func main() {}
