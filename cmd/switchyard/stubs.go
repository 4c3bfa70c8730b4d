package main

import "io"

func runPreview(args []string, stdout, stderr io.Writer) int { return 2 }
func runCatalog(args []string, stdout, stderr io.Writer) int { return 2 }
func runDLQ(args []string, stdout, stderr io.Writer) int     { return 2 }
func runReplay(args []string, stdout, stderr io.Writer) int  { return 2 }
